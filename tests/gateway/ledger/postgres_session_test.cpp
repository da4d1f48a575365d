// The PostgreSQL session's edges that need no server: a failed connection names the server but
// never the password, and text is made storable (no NUL, valid UTF-8) without touching valid text.

#include <gtest/gtest.h>

#include "ledger/postgres_ledger_writer.h"
#include "ledger/postgres_session.h"

namespace sy::gateway {
namespace {

TEST(PostgresSession, AFailedConnectionNamesTheServerButNeverThePassword) {
  for (const std::string url :
       {"postgresql://ledger:s3cret-pw@127.0.0.1:1/books",
        "host=127.0.0.1 port=1 user=ledger password=s3cret-pw dbname=books"}) {
    try {
      open_postgres_ledger({.url = url});
      FAIL() << "connected to port 1";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("ledger@127.0.0.1:1/books"), std::string::npos) << what;
      EXPECT_EQ(what.find("s3cret-pw"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << "one log line: " << what;
    }
  }
}

TEST(PostgresSession, TextIsMadeStorableAndValidTextIsKept) {
  EXPECT_EQ(pg_text("plain, règle, 日本, 🙂"), "plain, règle, 日本, 🙂");
  EXPECT_EQ(pg_text(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(pg_text("\xff"), "\xEF\xBF\xBD");
  EXPECT_EQ(pg_text("\xC3"), "\xEF\xBF\xBD");                                  // truncated sequence
  EXPECT_EQ(pg_text("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(pg_text("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

}  // namespace
}  // namespace sy::gateway
