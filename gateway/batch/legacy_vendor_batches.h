#pragma once
// Earlier builds kept vendor batches in their own SQLite file beside the job store
// (`vendor_batches.sqlite3`, one per replica, so they never followed a job to another replica).
// They now live in the BatchStore; this moves what such a file still owes into it, once.
//
// Its open vendor batches (done = 0) are inserted into `store` under the tag "legacy-<old id>",
// then the file is renamed to "<name>.imported" (kept for inspection, never read again). A
// crash before the rename imports again on the next start, and insert_vendor_batch keeps one
// open vendor batch per (job, tag), so nothing is imported twice. Records of that file always
// had a vendor id (it stored nothing before the vendor answered), so none is an intent.
//
// Load time only: errors throw std::runtime_error naming the file.

#include <cstddef>
#include <filesystem>

#include "batch/batch_store.h"

namespace sy::gateway {

// How many vendor batches were imported (0 when there is no such file).
size_t import_legacy_vendor_batches(const std::filesystem::path& path, BatchStore& store);

}  // namespace sy::gateway
