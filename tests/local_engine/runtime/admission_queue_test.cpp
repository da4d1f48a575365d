#include "runtime/admission_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sy::engine {
namespace {

std::string drain(AdmissionQueue<std::string>& q) {
  std::string order;
  while (!q.empty()) order += q.pop(q.next());
  return order;
}

TEST(AdmissionQueue, IsFifoWithinAClass) {
  AdmissionQueue<std::string> q(4);
  for (const char* s : {"a", "b", "c"}) q.push_back(Priority::interactive, s);
  EXPECT_EQ(drain(q), "abc");
}

TEST(AdmissionQueue, AdmitsInteractiveFirstButGivesBulkOneInBulkShare) {
  AdmissionQueue<std::string> q(4);
  for (const char* s : {"1", "2", "3"}) q.push_back(Priority::bulk, s);
  for (const char* s : {"a", "b", "c", "d", "e", "f", "g"}) q.push_back(Priority::interactive, s);
  EXPECT_EQ(drain(q), "abc1def2g3");
}

TEST(AdmissionQueue, StrictPriorityWhenBulkShareIsZero) {
  AdmissionQueue<std::string> q(0);
  q.push_back(Priority::bulk, "1");
  for (const char* s : {"a", "b", "c", "d", "e"}) q.push_back(Priority::interactive, s);
  EXPECT_EQ(drain(q), "abcde1");
}

TEST(AdmissionQueue, InteractiveAdmissionsWithoutWaitingBulkDoNotCount) {
  AdmissionQueue<std::string> q(2);
  q.push_back(Priority::interactive, "a");
  q.push_back(Priority::interactive, "b");
  EXPECT_EQ(q.pop(q.next()), "a");
  q.push_back(Priority::bulk, "1");
  // "a" went while no bulk waited: the next admission is still interactive's.
  EXPECT_EQ(drain(q), "b1");
}

TEST(AdmissionQueue, PutBackItemsGoFirstInTheirClass) {
  AdmissionQueue<std::string> q(4);
  q.push_back(Priority::bulk, "2");
  q.push_front(Priority::bulk, "1");
  EXPECT_EQ(drain(q), "12");
}

TEST(AdmissionQueue, RemoveIfHandsOverMatchesInOrder) {
  AdmissionQueue<std::string> q(4);
  for (const char* s : {"a", "xb", "c"}) q.push_back(Priority::interactive, s);
  q.push_back(Priority::bulk, "xd");
  std::vector<std::string> removed;
  q.remove_if([](const std::string& s) { return s[0] == 'x'; },
              [&](std::string s) { removed.push_back(std::move(s)); });
  EXPECT_EQ(removed, (std::vector<std::string>{"xb", "xd"}));
  EXPECT_EQ(drain(q), "ac");
}

}  // namespace
}  // namespace sy::engine
