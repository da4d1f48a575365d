// Cryptocurrency addresses: Base58Check (double SHA-256 checksum, via OpenSSL's libcrypto)
// and Bech32/Bech32m (BIP 173 / BIP 350 BCH checksum).

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

namespace {

constexpr std::string_view kBase58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

bool sha256(const uint8_t* data, size_t size, uint8_t* out) {
  unsigned int out_len = 0;
  return EVP_Digest(data, size, out, &out_len, EVP_sha256(), nullptr) == 1 && out_len == 32;
}

// Version bytes of Bitcoin (P2PKH 0x00, P2SH 0x05, testnet 0x6f/0xc4) and Litecoin
// (0x30, 0x32).
bool known_version(uint8_t v) {
  return v == 0x00 || v == 0x05 || v == 0x6f || v == 0xc4 || v == 0x30 || v == 0x32;
}

}  // namespace

bool base58check_valid(std::string_view address) {
  if (address.size() < 26 || address.size() > 35) return false;
  // (25) big-endian bytes of the decoded number; leading '1's are leading zero bytes.
  std::vector<uint8_t> bytes;
  for (char c : address) {
    size_t digit = kBase58.find(c);
    if (digit == std::string_view::npos) return false;
    unsigned carry = static_cast<unsigned>(digit);
    for (size_t i = bytes.size(); i-- > 0;) {
      carry += 58u * bytes[i];
      bytes[i] = static_cast<uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.insert(bytes.begin(), static_cast<uint8_t>(carry & 0xff));
      carry >>= 8;
    }
    if (bytes.size() > 25) return false;
  }
  size_t zeros = 0;
  while (zeros < address.size() && address[zeros] == '1') ++zeros;
  std::vector<uint8_t> payload(zeros, 0);
  payload.insert(payload.end(), bytes.begin(), bytes.end());
  if (payload.size() != 25 || !known_version(payload[0])) return false;
  std::array<uint8_t, 32> first{}, second{};
  if (!sha256(payload.data(), 21, first.data()) || !sha256(first.data(), 32, second.data())) {
    return false;
  }
  return std::equal(second.begin(), second.begin() + 4, payload.begin() + 21);
}

bool bech32_valid(std::string_view address) {
  constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  if (address.size() < 8 || address.size() > 90) return false;
  bool has_lower = false, has_upper = false;
  std::string lower;
  for (char c : address) {
    if (c >= 'a' && c <= 'z') has_lower = true;
    if (c >= 'A' && c <= 'Z') {
      has_upper = true;
      c = static_cast<char>(c - 'A' + 'a');
    }
    lower.push_back(c);
  }
  if (has_lower && has_upper) return false;  // mixed case is invalid by the spec
  size_t separator = lower.rfind('1');
  if (separator == std::string::npos || separator == 0 || separator + 7 > lower.size()) {
    return false;
  }
  std::vector<uint8_t> values;
  std::string_view hrp(lower.data(), separator);
  for (char c : hrp) values.push_back(static_cast<uint8_t>(c >> 5));
  values.push_back(0);
  for (char c : hrp) values.push_back(static_cast<uint8_t>(c & 31));
  size_t data_start = values.size();
  for (size_t i = separator + 1; i < lower.size(); ++i) {
    size_t v = kCharset.find(lower[i]);
    if (v == std::string_view::npos) return false;
    values.push_back(static_cast<uint8_t>(v));
  }
  constexpr std::array<uint32_t, 5> kGenerator = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                                  0x2a1462b3};
  uint32_t checksum = 1;
  for (uint8_t v : values) {
    uint32_t top = checksum >> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ v;
    for (size_t i = 0; i < 5; ++i) {
      if ((top >> i) & 1) checksum ^= kGenerator[i];
    }
  }
  // Segwit: witness version 0 uses Bech32 (constant 1), versions 1..16 Bech32m.
  uint8_t version = values[data_start];
  if (version > 16) return false;
  return checksum == (version == 0 ? 1u : 0x2bc830a3u);
}

std::optional<Hit> validate_base58check(std::string_view text, size_t begin, size_t end) {
  if (!standalone(text, begin, end)) return std::nullopt;
  if (!base58check_valid(text.substr(begin, end - begin))) return std::nullopt;
  return Hit{begin, end, 0.97};
}

std::optional<Hit> validate_bech32(std::string_view text, size_t begin, size_t end) {
  if (!bech32_valid(text.substr(begin, end - begin))) return std::nullopt;
  return Hit{begin, end, 0.97};
}

}  // namespace sy::policies::sensitivity_detail
