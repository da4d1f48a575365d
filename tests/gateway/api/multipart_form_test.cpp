#include "api/multipart_form.h"

#include <gtest/gtest.h>

namespace sy::gateway {
namespace {

TEST(MultipartForm, ReadsTheBoundaryQuotedOrNot) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc").value(), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"a b\"").value(), "a b");
  EXPECT_FALSE(multipart_boundary("application/json").has_value());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").has_value());
}

TEST(MultipartForm, SplitsFieldsAndFilesKeepingBinaryContent) {
  const std::string body =
      "--XX\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
      "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\nline1\r\nline2\n\r\n--XX--\r\n";
  auto parts = parse_multipart(body, "XX");
  ASSERT_TRUE(parts.has_value()) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "purpose");
  EXPECT_EQ((*parts)[0].content, "batch");
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ((*parts)[1].filename, "in.jsonl");
  EXPECT_EQ((*parts)[1].content_type, "application/octet-stream");
  EXPECT_EQ((*parts)[1].content, "line1\r\nline2\n");
}

TEST(MultipartForm, RefusesTruncatedBodies) {
  EXPECT_FALSE(parse_multipart("no boundary here", "XX").has_value());
  EXPECT_FALSE(parse_multipart(
                   "--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated", "XX")
                   .has_value());
  EXPECT_FALSE(
      parse_multipart("--XX\r\nContent-Disposition: form-data; name=\"a\"", "XX").has_value());
  EXPECT_FALSE(parse_multipart("--XX\r\nContent-Type: x\r\n\r\nv\r\n--XX--", "XX").has_value());
}

// What a reader saw, as text: "[name|filename]content" per part.
std::string read_in_pieces(std::string_view body, size_t piece, backends::Status& status) {
  std::string seen;
  MultipartReader reader("XX", {.begin =
                                    [&](const FormPart& part) {
                                      seen += "[" + part.name + "|" + part.filename + "]";
                                      return backends::Status{};
                                    },
                                .data =
                                    [&](std::string_view bytes) {
                                      seen.append(bytes);
                                      return backends::Status{};
                                    },
                                .end =
                                    [&] {
                                      seen += ";";
                                      return backends::Status{};
                                    }});
  status = {};
  for (size_t at = 0; at < body.size() && status; at += piece) {
    status = reader.feed(body.substr(at, piece));
  }
  if (status) status = reader.finish();
  return seen;
}

TEST(MultipartReader, SeesTheSamePartsWhateverTheBodysPieces) {
  const std::string body =
      "preamble\r\n--XX\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
      "--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\r\n"
      "a\r\n--X not yet\r\n-\r\n--XX--\r\nepilogue";
  const std::string expected = "[purpose|]batch;[file|in.jsonl]a\r\n--X not yet\r\n-;";
  for (size_t piece = 1; piece <= body.size(); ++piece) {
    backends::Status status;
    EXPECT_EQ(read_in_pieces(body, piece, status), expected) << "piece " << piece;
    EXPECT_TRUE(status.has_value()) << "piece " << piece;
  }
}

TEST(MultipartReader, RefusesCutBodiesAndEndlessHeaders) {
  backends::Status status;
  read_in_pieces("--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv", 3, status);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message, "multipart body: no closing boundary");
  read_in_pieces("--XX\r\nX-Pad: " + std::string(20'000, 'p'), 1000, status);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message, "multipart body: a part's headers are too long");
}

TEST(MultipartReader, AnEventsErrorStopsTheReaderAndSticks) {
  int data_calls = 0;
  MultipartReader reader("XX", {.begin = nullptr,
                                .data =
                                    [&](std::string_view) {
                                      ++data_calls;
                                      return backends::fail(backends::ErrorKind::payload_too_large,
                                                            "too big");
                                    },
                                .end = nullptr});
  auto fed = reader.feed("--XX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" +
                         std::string(100, 'x'));
  ASSERT_FALSE(fed.has_value());
  EXPECT_EQ(fed.error().kind, backends::ErrorKind::payload_too_large);
  EXPECT_FALSE(reader.feed("more").has_value());
  EXPECT_FALSE(reader.finish().has_value());
  EXPECT_EQ(data_calls, 1);
}

}  // namespace
}  // namespace sy::gateway
