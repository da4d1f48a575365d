#pragma once
// Digit regions: the only places the region-scanned detectors (cards, IBAN, SSN, phones, IPv4,
// full IPv6, MAC, Base58, national IDs) can match, found by one cheap pass in code so that
// their literal-less patterns run over a few short ranges instead of the whole text.
//
// A token is a maximal run of bytes in [A-Za-z0-9_.:\-/()+,]; tokens separated by one or two
// spaces form a chain. Every match of those patterns is a sequence of tokens of one chain
// containing a token with a digit or of 14+ bytes ("interesting"), with at most one token
// before and four after the nearest interesting one (a NINO's "AB", an IBAN's letter group).
// A region is the union of those windows in a chain, kept only if it can hold some pattern's
// shortest match: 6+ digits, a token of 14+ bytes or starting like an IBAN ("DE89"), or 4+
// digits with a '0' after a non-word byte (national phone) or three dots (IPv4).
// Regions begin and end at token edges, next to non-word bytes, so \b inside a region scan
// means what it means in the whole text.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace sy::policies::sensitivity_detail {

struct ByteRange {
  size_t begin = 0;
  size_t end = 0;
  bool operator==(const ByteRange&) const = default;
};

// Appends the regions of `text` in increasing order, non-overlapping.
void find_digit_regions(std::string_view text, std::vector<ByteRange>& out);

// Whether a region can hold a finding of a region-scanned detector, by shapes that every
// such finding needs (pattern and validator together); false only when none can. Most regions
// of ordinary text are dates, timestamps and order numbers, rejected here in one short pass
// instead of by the region database. The shapes, each necessary for the detectors named:
//   9+ digits chained by gaps of at most two of " .-/()"  cards, SSN, NHS, SIN, Aadhaar,
//                                      DE tax ID, NANP and "00" phones, national phones (whose
//                                      validator wants 9-11 digits)
//   '+' then a digit                   E.164 phones
//   two capitals, optional space, digit   UK NINO; two capitals, two digits: IBAN
//   three digit '.' digit triples      IPv4
//   five hex [:-] hex triples, or two hex '.' hex   MAC, full IPv6
//   16+ alphanumerics in a row         codice fiscale, Base58
//   a run of exactly 8 digits, optional [ -], a letter ending a word   ES NIF
//   [XYZxyz], optional [ -], a run of exactly 7 digits   ES NIE
bool region_may_hold_finding(std::string_view text, const ByteRange& region);

// The shapes above one bit each: a region-scanned detector can find something in a region
// only if the region has that detector's shape (Detector::region_shape), so each region is
// scanned only by the detectors of the shapes it has (vectorscan's cost over digit-dense
// regions grows with the number of patterns; most regions have one or two shapes).
enum RegionShape : uint8_t {
  kShapeChain9 = 1,     // 9+ chained digits: cards, SSN, NHS, SIN, Aadhaar, DE tax ID, NANP,
                        // "00" and national phones
  kShapePlus = 2,       // '+' digit: E.164
  kShapeCapitals = 4,   // two capitals then a digit: IBAN, UK NINO
  kShapeIpv4 = 8,       // three digit.digit
  kShapeHex = 16,       // MAC, full IPv6
  kShapeAlnum16 = 32,   // codice fiscale, Base58
  kShapeNifNie = 64,    // ES NIF, ES NIE
  kShapeAll = 127,
};
uint8_t region_shapes(std::string_view text, const ByteRange& region);

// find_digit_regions, then region_shapes of each, keeping only the regions with a shape:
// appends those regions to `regions` and their shapes to `shapes`. One pass classifies every
// byte of the text into bit masks (64 bytes at a time); both steps then work on those masks,
// a step per token or run rather than per byte. Same result as the two functions above.
void find_shaped_regions(std::string_view text, std::vector<ByteRange>& regions,
                         std::vector<uint8_t>& shapes);
// Tests only: false makes the mask pass use SSE2 where the CPU has AVX2 or AVX-512 (all paths
// must agree); allow_avx512_for_masks(false) makes it use AVX2 where the CPU has AVX-512BW.
void allow_avx2_for_masks(bool allowed);
void allow_avx512_for_masks(bool allowed);

// The same by walking every token of the text (no skipping ahead to digits): the reference
// the fast pass is tested against.
void find_digit_regions_by_walk(std::string_view text, std::vector<ByteRange>& out);

}  // namespace sy::policies::sensitivity_detail
