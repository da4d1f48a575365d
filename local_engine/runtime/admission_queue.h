#pragma once
// The serving engine's waiting requests: one FIFO per priority, and the rule that picks which
// class admits next. Interactive requests go first, but while both classes wait, one admission
// out of every `bulk_share` goes to the oldest bulk request so bulk work never starves
// (bulk_share 0: strict priority). Requests put back (preempted) go to the front of their class.
//
// Not thread-safe: the engine guards it with its own mutex.

#include <cstddef>
#include <deque>
#include <utility>

#include "switchyard/local_engine/serving_engine.h"

namespace sy::engine {

template <class T>
class AdmissionQueue {
 public:
  explicit AdmissionQueue(size_t bulk_share) : bulk_share_(bulk_share) {}

  size_t size() const { return interactive_.size() + bulk_.size(); }
  bool empty() const { return size() == 0; }

  void push_back(Priority p, T item) { fifo(p).push_back(std::move(item)); }
  void push_front(Priority p, T item) { fifo(p).push_front(std::move(item)); }

  // The class whose front admits next; the queue must not be empty.
  Priority next() const {
    if (bulk_.empty()) return Priority::interactive;
    if (interactive_.empty()) return Priority::bulk;
    return bulk_share_ > 0 && interactive_run_ + 1 >= bulk_share_ ? Priority::bulk
                                                                  : Priority::interactive;
  }
  T& front(Priority p) { return fifo(p).front(); }

  // Removes the front of class p as admitted, counting it for the bulk share.
  T pop(Priority p) {
    T item = std::move(fifo(p).front());
    fifo(p).pop_front();
    if (p == Priority::bulk) {
      interactive_run_ = 0;
    } else if (!bulk_.empty()) {
      ++interactive_run_;  // an interactive admission while bulk work waited
    }
    return item;
  }

  // Removes every item for which pred(item) is true, in queue order, handing each to `out`.
  template <class Pred, class Out>
  void remove_if(Pred pred, Out out) {
    for (auto* q : {&interactive_, &bulk_}) {
      for (auto it = q->begin(); it != q->end();) {
        if (pred(*it)) {
          out(std::move(*it));
          it = q->erase(it);
        } else {
          ++it;
        }
      }
    }
  }

 private:
  std::deque<T>& fifo(Priority p) { return p == Priority::bulk ? bulk_ : interactive_; }

  size_t bulk_share_;
  size_t interactive_run_ = 0;  // interactive admissions since the last bulk one
  std::deque<T> interactive_, bulk_;
};

}  // namespace sy::engine
