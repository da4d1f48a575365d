#pragma once
// A LedgerRow as JSON text and back: how a batch line's row waits in the job store (its
// outbox) until the ledger has committed it.

#include <optional>
#include <string>

#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

std::string ledger_row_to_json(const LedgerRow& row);
// nullopt when the text is not a row this build wrote.
std::optional<LedgerRow> ledger_row_from_json(const std::string& text);

}  // namespace sy::gateway
