// Saved sessions: a Session's conversation (token ids, the KV rows in use, the MTP module's cache
// and pending hidden row) in one file, tied to the model file it was computed with.
//
// Layout (version 2, little-endian, raw): SessionFileHeader (it records the KV element type and
// a checksum of the per-layer layout: each main layer's kind, row bytes and ring rows), then the
// payload: tokens [n_tokens] i32 padded to 8 bytes; the ring floors [n_layers] i64
// (RewindTracker, session/layer_state.h); per main layer its rows as the session's
// LayerStatePlan lays them out (row_bytes each): a full-length layer the rows [position], a ring
// its whole ring [rows]; with MTP state, the MTP block's rows [mtp_position] and the pending
// hidden row [hidden_size] f32; then the checksum64 of everything before it (u64). Apart from the
// rings only rows in use are written, so the size grows with the conversation, not with
// max_context. Version 1 files (f32 rows, no layout) are refused with a clear error.
#pragma once

#include <string>

#include "core/status.h"
#include "session/session.h"

namespace mote {

// Writes to a temporary name in the same folder, syncs, and renames over `path`: a crash leaves
// the old file or the new one, never a torn one. Errors name the path (kIoError).
Status save_session(const Session& session, const std::string& path);

// Restores a saved session into `session` (same model, same kv_type and layer layout: a file
// saved with another kv_type, or another ring size (max_batch, rings), is a kInvalidArgument
// naming the field; max_context large enough). The file is read twice: once to verify its checksum, then into the session, so a
// corrupt, truncated or foreign file (kCorruptFile / kInvalidArgument naming the path and field)
// leaves the session unchanged. Reads are bounded by the session's own buffer sizes.
// A file without MTP state loaded into a session with MTP re-evaluates the last token at the next
// prefill; MTP state in the file is ignored by a session without MTP.
Status load_session(Session& session, const std::string& path);

}  // namespace mote
