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

}  // namespace
}  // namespace sy::gateway
