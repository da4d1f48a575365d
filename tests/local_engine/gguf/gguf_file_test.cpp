#include "switchyard/local_engine/gguf_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "raw_gguf.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

using testing::RawGguf;

std::string parse_error(std::span<const std::byte> bytes) {
  try {
    GgufFile::parse(bytes);
  } catch (const EngineError& e) {
    return e.what();
  }
  return "";
}

std::vector<std::byte> float_bytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

GgufWriter sample_writer() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("a.u8", GgufValue::u8(200));
  w.set("a.i8", GgufValue::i8(-100));
  w.set("a.u16", GgufValue::u16(60000));
  w.set("a.i16", GgufValue::i16(-30000));
  w.set("a.u32", GgufValue::u32(4000000000u));
  w.set("a.i32", GgufValue::i32(-2000000000));
  w.set("a.u64", GgufValue::u64(uint64_t{1} << 60));
  w.set("a.i64", GgufValue::i64(-(int64_t{1} << 60)));
  w.set("a.f32", GgufValue::f32(0.5f));
  w.set("a.f64", GgufValue::f64(1e300));
  w.set("a.bool", GgufValue::boolean(true));
  w.set("a.strings", GgufValue::string_array({"x", "", "▁héllo"}));
  w.set("a.floats", GgufValue::f32_array({1.5f, -2.0f}));
  w.set("a.ints", GgufValue::i32_array({1, -2, 3}));
  w.set("a.nested",
        GgufValue::array(GgufType::array, {GgufValue::i32_array({7}), GgufValue::i32_array({})}));
  w.add_tensor("t.a", TensorType::f32, {3, 2}, float_bytes({1, 2, 3, 4, 5, 6}));
  std::vector<std::byte> q8(34 * 2, std::byte{7});
  w.add_tensor("t.q8", TensorType::q8_0, {32, 2}, q8);
  return w;
}

TEST(GgufFile, RoundTripsEveryValueTypeAndTensors) {
  auto bytes = sample_writer().to_bytes();
  auto f = GgufFile::parse(bytes);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_u32("a.u8"), 200u);
  EXPECT_EQ(f->get_i64("a.i8"), -100);
  EXPECT_EQ(f->get_u32("a.u16"), 60000u);
  EXPECT_EQ(f->get_i64("a.i16"), -30000);
  EXPECT_EQ(f->get_u32("a.u32"), 4000000000u);
  EXPECT_EQ(f->get_i64("a.i32"), -2000000000);
  EXPECT_EQ(f->get_u64("a.u64"), uint64_t{1} << 60);
  EXPECT_EQ(f->get_i64("a.i64"), -(int64_t{1} << 60));
  EXPECT_EQ(f->get_f32("a.f32"), 0.5f);
  EXPECT_EQ(std::get<double>(f->find("a.f64")->data), 1e300);
  EXPECT_TRUE(f->get_bool("a.bool"));
  EXPECT_EQ(f->get_string_array("a.strings"), (std::vector<std::string>{"x", "", "▁héllo"}));
  EXPECT_EQ(f->get_f32_array("a.floats"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(f->get_int_array("a.ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(*f->find("a.nested"), GgufValue::array(GgufType::array, {GgufValue::i32_array({7}),
                                                                     GgufValue::i32_array({})}));
  ASSERT_EQ(f->tensors().size(), 2u);
  const auto& a = f->tensor("t.a");
  EXPECT_EQ(a.shape, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(a.n_elements, 6u);
  EXPECT_EQ(a.rows(), 2u);
  float second_row_first;
  std::memcpy(&second_row_first, a.data.data() + 3 * sizeof(float), sizeof(float));
  EXPECT_EQ(second_row_first, 4.0f);
  const auto& q = f->tensor("t.q8");
  EXPECT_EQ(q.n_bytes, 68u);
  EXPECT_EQ(q.offset % f->alignment(), 0u);
  EXPECT_EQ(f->data_offset() % f->alignment(), 0u);

  // Writing what was read reproduces the file byte for byte.
  GgufWriter again;
  for (const auto& [k, v] : f->metadata()) again.set(k, v);
  for (const auto& t : f->tensors()) again.add_tensor(t.name, t.type, t.shape, t.data);
  EXPECT_EQ(again.to_bytes(), bytes);
}

TEST(GgufFile, TypedGettersNameTheKeyWhenMissingOrWrong) {
  auto bytes = sample_writer().to_bytes();
  auto f = GgufFile::parse(bytes);
  EXPECT_THROW(
      {
        try {
          f->get_string("no.such.key");
        } catch (const EngineError& e) {
          EXPECT_STREQ(e.what(), "metadata key no.such.key: missing");
          throw;
        }
      },
      EngineError);
  try {
    f->get_u32("a.strings");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("a.strings"), std::string::npos);
  }
  EXPECT_THROW(f->get_u32("a.i8"), EngineError);   // negative
  EXPECT_THROW(f->get_u32("a.u64"), EngineError);  // out of range
  EXPECT_EQ(f->get_u32_or("absent", 9), 9u);
  EXPECT_THROW(f->tensor("blk.3.attn_q.weight"), EngineError);
}

TEST(GgufFile, HonorsCustomAlignment) {
  GgufWriter w = sample_writer();
  w.set("general.alignment", GgufValue::u32(64));
  auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  for (const auto& t : f->tensors()) EXPECT_EQ(t.offset % 64, 0u);
}

TEST(GgufFile, OpensRealModelFromDisk) {
  auto f =
      GgufFile::open(std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf");
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(f->get_u32("llama.block_count"), 5u);
  EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens").size(), 512u);
  const auto& emb = f->tensor("token_embd.weight");
  EXPECT_EQ(emb.type, TensorType::f32);
  EXPECT_EQ(emb.shape, (std::vector<uint64_t>{64, 512}));
}

TEST(GgufFile, RejectsEveryTruncationWithAnError) {
  auto bytes = sample_writer().to_bytes();
  // Any prefix ending before the last tensor's data ends must fail cleanly (the last
  // tensor, 68 bytes, is followed by alignment padding that a file may omit).
  auto f = GgufFile::parse(bytes);
  size_t last_data_end = f->data_offset() + f->tensor("t.q8").offset + 68;
  EXPECT_EQ(parse_error(std::span(bytes.data(), last_data_end)), "");
  for (size_t n = 0; n < last_data_end; ++n) {
    std::span<const std::byte> prefix(bytes.data(), n);
    EXPECT_NE(parse_error(prefix), "") << "prefix of " << n << " bytes parsed";
  }
}

TEST(GgufFile, SurvivesRandomCorruption) {
  auto original = sample_writer().to_bytes();
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bytes = original;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = std::byte(rng() & 0xff);
    try {
      GgufFile::parse(bytes);
    } catch (const EngineError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(GgufFile, RejectsBadMagicAndVersions) {
  RawGguf bad_magic;
  bad_magic.put<uint32_t>(0x12345678).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(0);
  EXPECT_NE(parse_error(bad_magic.span()).find("bad magic"), std::string::npos);
  RawGguf v1;
  v1.header(1, 0, 0);
  EXPECT_NE(parse_error(v1.span()).find("version 1"), std::string::npos);
  RawGguf v9;
  v9.header(9, 0, 0);
  EXPECT_NE(parse_error(v9.span()).find("version 9"), std::string::npos);
  RawGguf v2;
  v2.header(2, 0, 1).kv_u32("x", 1);
  EXPECT_EQ(GgufFile::parse(v2.span())->get_u32("x"), 1u);
}

TEST(GgufFile, RejectsHugeCountsWithoutAllocating) {
  RawGguf kvs;
  kvs.header(3, 0, uint64_t{1} << 62);
  EXPECT_NE(parse_error(kvs.span()).find("metadata count"), std::string::npos);
  RawGguf tensors;
  tensors.header(3, uint64_t{1} << 61, 0);
  EXPECT_NE(parse_error(tensors.span()).find("tensor count"), std::string::npos);
  RawGguf array;
  array.header(3, 0, 1)
      .str("tok.tokens")
      .put<uint32_t>(9)
      .put<uint32_t>(8)
      .put<uint64_t>(uint64_t{1} << 60);
  EXPECT_NE(parse_error(array.span()).find("metadata key tok.tokens: array count"),
            std::string::npos);
  RawGguf string;
  string.header(3, 0, 1).str("k").put<uint32_t>(8).put<uint64_t>(uint64_t{1} << 63);
  EXPECT_NE(parse_error(string.span()).find("metadata key k: truncated"), std::string::npos);
  RawGguf key;
  key.header(3, 0, 1).put<uint64_t>(~uint64_t{0}).zeros(32);
  EXPECT_NE(parse_error(key.span()).find("exceeds the limit"), std::string::npos);
}

TEST(GgufFile, RejectsHostileMetadata) {
  RawGguf unknown_type;
  unknown_type.header(3, 0, 1).str("k").put<uint32_t>(77).zeros(32);
  EXPECT_NE(parse_error(unknown_type.span()).find("metadata key k: unknown value type 77"),
            std::string::npos);
  RawGguf bad_bool;
  bad_bool.header(3, 0, 1).str("k").put<uint32_t>(7).put<uint8_t>(5);
  EXPECT_NE(parse_error(bad_bool.span()).find("bool"), std::string::npos);
  RawGguf dup;
  dup.header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2);
  EXPECT_NE(parse_error(dup.span()).find("metadata key k: duplicate"), std::string::npos);
  RawGguf align;
  align.header(3, 0, 1).kv_u32("general.alignment", 24);
  EXPECT_NE(parse_error(align.span()).find("general.alignment"), std::string::npos);
  RawGguf deep;
  deep.header(3, 0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1);
  deep.put<uint32_t>(9).put<uint64_t>(1).put<uint32_t>(4).put<uint64_t>(1).put<uint32_t>(1);
  EXPECT_NE(parse_error(deep.span()).find("nested too deep"), std::string::npos);
}

RawGguf one_tensor(std::vector<uint64_t> shape, uint32_t type, uint64_t offset, size_t data_bytes) {
  RawGguf f;
  f.header(3, 1, 0).tensor("blk.3.attn_q.weight", std::move(shape), type, offset);
  f.pad(32).zeros(data_bytes);
  return f;
}

TEST(GgufFile, RejectsBadTensorsNamingThem) {
  auto expect = [](const RawGguf& f, std::string_view what) {
    std::string err = parse_error(f.span());
    EXPECT_NE(err.find("tensor blk.3.attn_q.weight"), std::string::npos) << err;
    EXPECT_NE(err.find(what), std::string::npos) << err;
  };
  EXPECT_EQ(parse_error(one_tensor({4, 2}, 0, 0, 32).span()), "");
  expect(one_tensor({4, 2}, 0, 0, 31), "runs past the end");
  expect(one_tensor({4, 2}, 0, uint64_t{1} << 63, 32), "runs past the end");
  expect(one_tensor({4, 2}, 0, 4, 64), "not a multiple of the alignment");
  expect(one_tensor({4, 2}, 99, 0, 32), "unknown tensor type 99");
  expect(one_tensor({33, 2}, 8, 0, 4096), "not a multiple of the q8_0 block size");
  expect(one_tensor({4, 0}, 0, 0, 32), "bad dimension");
  expect(one_tensor({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 32), "overflows");
  expect(one_tensor({4, 2, 1, 1, 1}, 0, 0, 32), "5 dimensions");

  RawGguf overlap;
  overlap.header(3, 2, 0).tensor("a", {8}, 0, 0).tensor("blk.3.attn_q.weight", {8}, 0, 0);
  overlap.pad(32).zeros(64);
  EXPECT_NE(parse_error(overlap.span()).find("overlaps"), std::string::npos);

  RawGguf dup;
  dup.header(3, 2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32);
  dup.pad(32).zeros(64);
  EXPECT_NE(parse_error(dup.span()).find("tensor a: duplicate"), std::string::npos);
}

TEST(GgufFile, OpenReportsPathAndProblem) {
  auto dir = std::filesystem::temp_directory_path() / "sy_gguf_test";
  std::filesystem::create_directories(dir);
  auto path = dir / "truncated.gguf";
  auto bytes = sample_writer().to_bytes();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), 40);
  }
  try {
    GgufFile::open(path);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
  EXPECT_THROW(GgufFile::open(dir / "absent.gguf"), EngineError);
  sample_writer().write(path);
  EXPECT_EQ(GgufFile::open(path)->tensors().size(), 2u);
  std::filesystem::remove_all(dir);
}

TEST(GgufWriter, RejectsDataThatDoesNotMatchTheShape) {
  GgufWriter w;
  std::vector<std::byte> data(12);
  EXPECT_THROW(w.add_tensor("x", TensorType::f32, {4}, data), EngineError);
  EXPECT_THROW(w.add_tensor("x", TensorType::q8_0, {3}, data), EngineError);
  w.add_tensor("x", TensorType::f32, {3}, data);
  EXPECT_THROW(w.add_tensor("x", TensorType::f32, {3}, data), EngineError);
}

}  // namespace
}  // namespace sy::engine
