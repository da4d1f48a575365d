#pragma once
// The mask_pii transform as a Backend decorator: the request a call receives (already adapted
// to the backend by fallback) is masked with the plan before the wrapped backend sees it, and
// the wrapped backend's chunks and response are restored before the caller sees them. Fallback
// wraps only the candidates that must not see the values (closed backends), so each candidate
// of one request gets its own form: masked for vendors, original for the local engine.
//
// Everything else (info, capabilities, availability, token counting) is the wrapped backend's.
// Thread-safety is the wrapped backend's; the plan is immutable and shared.

#include <memory>

#include "switchyard/backends/backend.h"
#include "switchyard/policies/transform/mask_plan.h"

namespace sy::policies {

std::shared_ptr<backends::Backend> make_masking_backend(std::shared_ptr<backends::Backend> inner,
                                                        MaskPlanPtr plan);

}  // namespace sy::policies
