// A bulk job's addresses as they are submitted, deduplicated and cut into
// the chunks the database keeps (extension/src/97_jobs.sql): every input
// points at its address, the first input with the same address_key, and
// addresses are numbered (their ordinal) in the order first seen. Chunks,
// not a row per address, are what makes a job cheap to store and to drain:
// a million-address job is a few thousand rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ev::jobs {

// Inputs kept per row of job_input_chunks.
constexpr int kInputChunk = 1000;
// Addresses kept per row of job_address_chunks: the unit the workers claim
// and write back. Address ordinal n lives in chunk n / kAddressChunk, slot
// n % kAddressChunk.
constexpr int kAddressChunk = 256;

class JobBuilder {
  public:
    // The ordinal of the input's address (address_key), new or seen before.
    std::int32_t add(std::string_view input);

    std::int64_t inputs() const { return inputs_; }
    std::int32_t addresses() const { return static_cast<std::int32_t>(offsets_.size()); }
    std::int32_t address_chunks() const { return (addresses() + kAddressChunk - 1) / kAddressChunk; }

    // Chunk c of the addresses: keys and copies (inputs per address).
    std::vector<std::string_view> chunk_keys(std::int32_t chunk) const;
    std::vector<std::int32_t> chunk_copies(std::int32_t chunk) const;

  private:
    std::string_view key(std::int32_t ordinal) const;
    void grow();

    // Keys back to back (one allocation, not one per key: a million-address
    // job holds its keys in tens of megabytes), offsets_[n] where key n starts.
    std::string arena_;
    std::vector<std::size_t> offsets_;
    std::vector<std::int32_t> copies_;
    // Open addressing, linear probing: ordinal + 1, 0 for empty.
    std::vector<std::int32_t> table_ = std::vector<std::int32_t>(1024, 0);
    std::int64_t inputs_ = 0;
};

}  // namespace ev::jobs
