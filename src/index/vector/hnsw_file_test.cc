// The index file: round trip, every corruption case, failed saves.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>

#include "env/fault_injection_env.h"
#include "index/vector/crc32c.h"
#include "index/vector/hnsw_index.h"
#include "index/vector/test_data.h"
#include "test_util.h"

namespace nodespace::vector {
namespace {

using testdata::RandomVectors;

// File-backed pages this process has resident (RssFile in /proc/self/status).
int64_t ResidentFileBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssFile:", 0) == 0) return std::stoll(line.substr(8)) * 1024;  // kB
  }
  return -1;
}

class HnswFileTest : public ::testing::Test {
 protected:
  static constexpr size_t kDim = 16;

  void SetUp() override {
    data_ = RandomVectors(600, kDim, 3);
    queries_ = RandomVectors(20, kDim, 4);
    path_ = dir_.Sub("index.hnsw");
  }

  std::unique_ptr<HnswIndex> MakeIndex(bool int8 = false) {
    HnswOptions opt;
    opt.dim = kDim;
    opt.m = 8;
    opt.ef_construction = 64;
    opt.int8 = int8;
    opt.int8_train_size = 300;
    auto index = HnswIndex::Create(opt).value();
    for (size_t i = 0; i < 600; ++i) {
      EXPECT_TRUE(index->Insert(int64_t(i) * 3, {data_.data() + i * kDim, kDim}).ok());
    }
    for (int64_t i = 0; i < 30; ++i) EXPECT_TRUE(index->Remove(i * 9).ok());
    return index;
  }

  std::vector<uint8_t> ReadAll() { return *Env::Default()->ReadFile(path_); }
  void WriteAll(const std::vector<uint8_t>& bytes) {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
  // Rewrites the header checksum after a deliberate header edit.
  static void FixHeaderCrc(std::vector<uint8_t>& bytes) {
    uint32_t crc = Crc32c(bytes.data(), 508);
    std::memcpy(bytes.data() + 508, &crc, 4);
  }
  Status OpenStatus() { return HnswIndex::Open(*Env::Default(), path_).status(); }

  void ExpectSameResults(const HnswIndex& a, const HnswIndex& b) {
    for (size_t q = 0; q < 20; ++q) {
      std::span<const float> query(queries_.data() + q * kDim, kDim);
      auto ra = a.Search(query, 10, 32);
      auto rb = b.Search(query, 10, 32);
      ASSERT_TRUE(ra.ok() && rb.ok());
      ASSERT_EQ(ra->neighbors.size(), rb->neighbors.size());
      for (size_t i = 0; i < ra->neighbors.size(); ++i) {
        EXPECT_EQ(ra->neighbors[i].label, rb->neighbors[i].label);
        EXPECT_EQ(ra->neighbors[i].distance, rb->neighbors[i].distance);
      }
    }
  }

  testing::TempDir dir_;
  std::string path_;
  std::vector<float> data_, queries_;
};

TEST_F(HnswFileTest, UpdatingToTheSameVectorKeepsTheIndexMapped) {
  auto index = MakeIndex();
  ASSERT_TRUE(index->Save(*Env::Default(), path_, 7).ok());
  auto opened = HnswIndex::Open(*Env::Default(), path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  HnswIndex& o = **opened;
  ASSERT_TRUE(o.is_mapped());
  // Label 6 holds data_[2]: nothing changes, nothing is copied.
  ASSERT_TRUE(o.Update(6, {data_.data() + 2 * kDim, kDim}).ok());
  EXPECT_TRUE(o.is_mapped());
  ExpectSameResults(*index, o);
  // Another vector is a real change.
  ASSERT_TRUE(o.Update(6, {data_.data() + 5 * kDim, kDim}).ok());
  EXPECT_FALSE(o.is_mapped());
  EXPECT_FALSE(o.Update(7, {data_.data(), kDim}).ok());  // not in the index
}

TEST_F(HnswFileTest, MappedAllowedListsFindTheSameSlots) {
  // A mapped index looks labels up in its sorted label section (guessing each
  // position from the last, see HnswIndex::SlotsOf); the in-memory index uses
  // its hash map. Both must resolve every allowed list the same way: dense
  // and sparse runs, labels never stored or removed, below the first and
  // past the last label, and lists that are not sorted after all.
  auto index = MakeIndex();  // labels 0, 3, 6, ..., 1797; multiples of 9 below 270 removed
  ASSERT_TRUE(index->Save(*Env::Default(), path_, 1).ok());
  auto opened = HnswIndex::Open(*Env::Default(), path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  HnswIndex& mapped = **opened;
  ASSERT_TRUE(mapped.is_mapped());
  std::vector<std::vector<int64_t>> lists;
  lists.push_back({});
  std::vector<int64_t> all;
  for (int64_t label = -5; label < 1900; ++label) all.push_back(label);
  lists.push_back(all);
  std::vector<int64_t> sparse;
  for (int64_t label = 1; label < 1800; label += 97) sparse.push_back(label * 3);
  lists.push_back(sparse);
  lists.push_back({0, 9, 18, 1797});              // removed, removed, removed, last
  lists.push_back({-1, 2, 4, 1800, 1803, 5000});  // none stored
  lists.push_back({1797});
  lists.push_back({3, 1200, 6, 600, 30});  // not sorted
  for (const std::vector<int64_t>& allowed : lists) {
    for (size_t q = 0; q < 5; ++q) {
      std::span<const float> query(queries_.data() + q * kDim, kDim);
      auto want = index->SearchExactAllowed(query, 1000, allowed);
      auto got = mapped.SearchExactAllowed(query, 1000, allowed);
      ASSERT_TRUE(want.ok() && got.ok());
      ASSERT_EQ(got->neighbors.size(), want->neighbors.size()) << allowed.size();
      for (size_t i = 0; i < want->neighbors.size(); ++i) {
        EXPECT_EQ(got->neighbors[i].label, want->neighbors[i].label);
        EXPECT_EQ(got->neighbors[i].distance, want->neighbors[i].distance);
      }
    }
  }
  // The unsorted list found all five of its labels.
  auto unsorted = mapped.SearchExactAllowed({queries_.data(), kDim}, 10, lists.back());
  ASSERT_TRUE(unsorted.ok());
  EXPECT_EQ(unsorted->neighbors.size(), 5u);
}

TEST_F(HnswFileTest, HnswRoundTripGivesIdenticalResults) {
  for (bool int8 : {false, true}) {
    auto index = MakeIndex(int8);
    ASSERT_TRUE(index->Save(*Env::Default(), path_, 1234).ok());
    auto opened = HnswIndex::Open(*Env::Default(), path_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    HnswIndex& o = **opened;
    EXPECT_TRUE(o.is_mapped());
    EXPECT_EQ(o.applied_seq(), 1234u);
    EXPECT_EQ(o.size(), index->size());
    EXPECT_EQ(o.slot_count(), index->slot_count());
    EXPECT_EQ(o.quantizer_trained(), int8);
    EXPECT_TRUE(o.Verify().ok());
    EXPECT_TRUE(o.Contains(3));
    EXPECT_FALSE(o.Contains(9));
    EXPECT_FALSE(o.Contains(4));
    ExpectSameResults(*index, o);
    std::vector<int64_t> allowed = {3, 6, 12, 300, 301};
    auto ea = index->SearchExactAllowed({queries_.data(), kDim}, 3, allowed);
    auto eb = o.SearchExactAllowed({queries_.data(), kDim}, 3, allowed);
    ASSERT_TRUE(ea.ok() && eb.ok());
    EXPECT_EQ(ea->neighbors.size(), eb->neighbors.size());

    // Mutations after Open move to owned memory and behave like the original.
    for (auto* ix : {index.get(), &o}) {
      ASSERT_TRUE(ix->Insert(100000, {data_.data(), kDim}).ok());
      ASSERT_TRUE(ix->Remove(3).ok());
      ASSERT_TRUE(ix->Update(6, {data_.data() + kDim, kDim}).ok());
    }
    EXPECT_FALSE(o.is_mapped());
    ExpectSameResults(*index, o);
    ASSERT_TRUE(o.Save(*Env::Default(), path_, 1235).ok());
    auto again = HnswIndex::Open(*Env::Default(), path_, {.verify_checksums = true});
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ((*again)->applied_seq(), 1235u);
    ExpectSameResults(*index, **again);
  }
}

// Quantize() on a mapped index computes the codes beside the mapping and
// answers as the same graph quantized in memory does, before and after a
// save, and after a later mutation copies it into memory.
TEST_F(HnswFileTest, QuantizingAMappedIndexMatchesQuantizingItInMemory) {
  auto owned = MakeIndex(false);
  ASSERT_TRUE(owned->Save(*Env::Default(), path_, 5).ok());
  auto opened = HnswIndex::Open(*Env::Default(), path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  HnswIndex& mapped = **opened;
  ASSERT_TRUE(owned->Quantize().ok());
  ASSERT_TRUE(mapped.Quantize().ok());
  EXPECT_TRUE(mapped.is_mapped());
  EXPECT_TRUE(mapped.quantizer_trained());
  EXPECT_TRUE(mapped.options().int8);
  EXPECT_TRUE(owned->quantizer_trained());
  EXPECT_TRUE(mapped.Quantize().ok());  // a second call changes nothing
  ExpectSameResults(*owned, mapped);

  const std::string requantized = dir_.Sub("quantized.hnsw");
  ASSERT_TRUE(mapped.Save(*Env::Default(), requantized, 6).ok());
  auto reopened = HnswIndex::Open(*Env::Default(), requantized, {.verify_checksums = true});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE((*reopened)->quantizer_trained());
  EXPECT_TRUE((*reopened)->options().int8);
  ExpectSameResults(*owned, **reopened);

  for (auto* ix : {owned.get(), &mapped}) {
    ASSERT_TRUE(ix->Insert(100000, {data_.data() + 7 * kDim, kDim}).ok());
    ASSERT_TRUE(ix->Remove(3).ok());
  }
  EXPECT_FALSE(mapped.is_mapped());
  ExpectSameResults(*owned, mapped);
}

// The float vectors of a mapped, quantized index leave the process's
// resident set; searches read them again when they re-score.
TEST_F(HnswFileTest, ReleasingVectorPagesShrinksTheResidentSet) {
  constexpr size_t kBigDim = 256, kCount = 4096;  // 4 MiB of floats
  const std::vector<float> data = RandomVectors(kCount, kBigDim, 11);
  HnswOptions opt;
  opt.dim = kBigDim;
  opt.m = 8;
  opt.ef_construction = 32;
  auto index = HnswIndex::Create(opt).value();
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(index->Insert(int64_t(i), {data.data() + i * kBigDim, kBigDim}).ok());
  }
  ASSERT_TRUE(index->Save(*Env::Default(), path_, 1).ok());
  auto opened = HnswIndex::Open(*Env::Default(), path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  HnswIndex& mapped = **opened;
  EXPECT_EQ(mapped.ReleaseVectorPages(), 0u);  // not quantized: floats are walked
  ASSERT_TRUE(mapped.Quantize().ok());

  std::span<const float> query(data.data(), kBigDim);
  auto before = mapped.SearchExact(query, 10);  // touches every float vector
  ASSERT_TRUE(before.ok());
  const int64_t resident_before = ResidentFileBytes();
  const size_t released = mapped.ReleaseVectorPages();
  const int64_t resident_after = ResidentFileBytes();
  EXPECT_GE(released, kCount * kBigDim * sizeof(float) - 2 * 4096);
  EXPECT_GE(resident_before - resident_after, static_cast<int64_t>(released) / 2);

  // Graph searches and exact searches over an allowed set read the floats
  // they re-score with pread: the float pages stay out of the resident set,
  // and the answers are those of the mapped floats.
  std::vector<int64_t> allowed;
  for (int64_t label = 0; label < int64_t(kCount); label += 3) allowed.push_back(label);
  for (size_t i = 0; i < 400; ++i) {
    std::span<const float> q(data.data() + i * kBigDim, kBigDim);
    auto walked = mapped.Search(q, 10);
    ASSERT_TRUE(walked.ok());
    ASSERT_FALSE(walked->neighbors.empty());
    EXPECT_EQ(walked->neighbors[0].label, int64_t(i));
  }
  auto allowed_hits = mapped.SearchExactAllowed(query, 10, allowed);
  ASSERT_TRUE(allowed_hits.ok());
  EXPECT_LT(ResidentFileBytes() - resident_after, static_cast<int64_t>(released) / 2);
  auto float_hits = index->SearchExactAllowed(query, 10, allowed);
  ASSERT_TRUE(float_hits.ok());
  ASSERT_EQ(allowed_hits->neighbors.size(), float_hits->neighbors.size());
  for (size_t i = 0; i < float_hits->neighbors.size(); ++i) {
    EXPECT_EQ(allowed_hits->neighbors[i].label, float_hits->neighbors[i].label);
    EXPECT_EQ(allowed_hits->neighbors[i].distance, float_hits->neighbors[i].distance);
  }

  auto after = mapped.SearchExact(query, 10);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->neighbors.size(), before->neighbors.size());
  for (size_t i = 0; i < after->neighbors.size(); ++i) {
    EXPECT_EQ(after->neighbors[i].label, before->neighbors[i].label);
  }
}

// A quantized index changed after Open walks on codes and links new slots
// with floats read from the file it was opened from: only the new slots'
// floats move into memory, the index answers and saves as the same index
// kept wholly in memory does, and a new vector for one of the file's slots
// brings them all into memory.
TEST_F(HnswFileTest, AChangedQuantizedIndexLeavesItsFloatsInTheFile) {
  constexpr size_t kBigDim = 128, kCount = 2000, kMore = 100;
  const std::vector<float> data = RandomVectors(kCount + kMore, kBigDim, 21);
  auto vec = [&](size_t i) { return std::span<const float>(data.data() + i * kBigDim, kBigDim); };
  auto build = [&] {
    HnswOptions opt;
    opt.dim = kBigDim;
    opt.m = 8;
    opt.ef_construction = 32;
    opt.int8 = true;
    opt.int8_train_size = 500;
    auto index = HnswIndex::Create(opt).value();
    for (size_t i = 0; i < kCount; ++i) EXPECT_TRUE(index->Insert(int64_t(i), vec(i)).ok());
    return index;
  };
  auto expect_same = [&](const HnswIndex& a, const HnswIndex& b) {
    for (size_t q = 0; q < 30; ++q) {
      const std::span<const float> query = vec(q * 70);
      auto ra = a.Search(query, 10);
      auto rb = b.Search(query, 10);
      ASSERT_TRUE(ra.ok() && rb.ok());
      ASSERT_EQ(ra->neighbors.size(), rb->neighbors.size());
      for (size_t i = 0; i < ra->neighbors.size(); ++i) {
        EXPECT_EQ(ra->neighbors[i].label, rb->neighbors[i].label);
        EXPECT_EQ(ra->neighbors[i].distance, rb->neighbors[i].distance);
      }
    }
    for (int64_t label : {int64_t{0}, int64_t{777}, int64_t(kCount), int64_t(kCount + kMore - 1)}) {
      if (!a.Contains(label)) continue;
      EXPECT_EQ(*a.GetVector(label), *b.GetVector(label)) << label;
    }
  };
  auto save_and_reopen = [&](const HnswIndex& index, uint64_t seq) {
    const std::string copy = dir_.Sub("copy" + std::to_string(seq) + ".hnsw");
    EXPECT_TRUE(index.Save(*Env::Default(), copy, seq).ok());
    auto reopened = HnswIndex::Open(*Env::Default(), copy, {.verify_checksums = true});
    EXPECT_TRUE(reopened.ok()) << reopened.status().ToString();
    return std::move(*reopened);
  };
  for (bool released : {false, true}) {
    SCOPED_TRACE(released ? "float pages released" : "float pages mapped");
    auto owned = build();
    ASSERT_TRUE(owned->quantizer_trained());
    ASSERT_TRUE(owned->Save(*Env::Default(), path_, 1).ok());
    auto opened = HnswIndex::Open(*Env::Default(), path_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    HnswIndex& mapped = **opened;
    if (released) EXPECT_GT(mapped.ReleaseVectorPages(), 0u);
    for (size_t i = kCount; i < kCount + kMore; ++i) {
      ASSERT_TRUE(owned->Insert(int64_t(i), vec(i)).ok());
      ASSERT_TRUE(mapped.Insert(int64_t(i), vec(i)).ok());
    }
    ASSERT_TRUE(owned->Remove(3).ok());
    ASSERT_TRUE(mapped.Remove(3).ok());
    EXPECT_FALSE(mapped.is_mapped());
    expect_same(*owned, mapped);
    auto saved = save_and_reopen(mapped, 2);
    ASSERT_NE(saved, nullptr);
    EXPECT_TRUE(saved->Verify().ok());
    expect_same(*owned, *saved);

    // The file's slots' floats were not in memory: a new vector for one of
    // them brings all of them in.
    const size_t before = mapped.MemoryUsage();
    ASSERT_TRUE(owned->Update(5, vec(kCount + kMore - 1)).ok());
    ASSERT_TRUE(mapped.Update(5, vec(kCount + kMore - 1)).ok());
    // (the new slots' floats were in a vector with room to spare.)
    EXPECT_GE(mapped.MemoryUsage(), before + kCount * kBigDim * sizeof(float) * 9 / 10);
    expect_same(*owned, mapped);
    auto resaved = save_and_reopen(mapped, 3);
    ASSERT_NE(resaved, nullptr);
    expect_same(*owned, *resaved);
  }
}

TEST_F(HnswFileTest, HnswEmptyIndexRoundTrip) {
  HnswOptions opt;
  opt.dim = 8;
  auto index = HnswIndex::Create(opt).value();
  ASSERT_TRUE(index->Save(*Env::Default(), path_, 0).ok());
  auto opened = HnswIndex::Open(*Env::Default(), path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->size(), 0u);
  ASSERT_TRUE((*opened)->Insert(1, std::vector<float>(8, 1.0f)).ok());
  EXPECT_EQ((*opened)->Search(std::vector<float>(8, 1.0f), 1)->neighbors.at(0).label, 1);
}

TEST_F(HnswFileTest, HnswOpenMissingFileIsNotFound) {
  EXPECT_EQ(OpenStatus().code(), StatusCode::kNotFound);
}

TEST_F(HnswFileTest, HnswTruncatedFileIsCorruption) {
  ASSERT_TRUE(MakeIndex()->Save(*Env::Default(), path_, 1).ok());
  const std::vector<uint8_t> bytes = ReadAll();
  for (size_t keep :
       {size_t{0}, size_t{100}, size_t{511}, size_t{512}, bytes.size() / 2, bytes.size() - 1}) {
    WriteAll(std::vector<uint8_t>(bytes.begin(), bytes.begin() + std::ptrdiff_t(keep)));
    Status st = OpenStatus();
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << keep;
    EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
  }
}

TEST_F(HnswFileTest, HnswBadMagicIsCorruption) {
  ASSERT_TRUE(MakeIndex()->Save(*Env::Default(), path_, 1).ok());
  std::vector<uint8_t> bytes = ReadAll();
  bytes[0] = 'X';
  WriteAll(bytes);
  Status st = OpenStatus();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("bad magic"), std::string::npos) << st.message();
}

TEST_F(HnswFileTest, HnswWrongVersionIsCorruption) {
  ASSERT_TRUE(MakeIndex()->Save(*Env::Default(), path_, 1).ok());
  std::vector<uint8_t> bytes = ReadAll();
  uint32_t version = 2;
  std::memcpy(bytes.data() + 8, &version, 4);
  FixHeaderCrc(bytes);
  WriteAll(bytes);
  Status st = OpenStatus();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("unsupported format version 2"), std::string::npos) << st.message();
}

TEST_F(HnswFileTest, HnswFlippedHeaderByteIsCorruption) {
  ASSERT_TRUE(MakeIndex()->Save(*Env::Default(), path_, 1).ok());
  const std::vector<uint8_t> bytes = ReadAll();
  // Every field after the version: dim, metric, counts, applied_seq, the
  // section table and the checksum itself.
  for (size_t at : {16, 20, 52, 60, 72, 110, 300, 508}) {
    std::vector<uint8_t> bad = bytes;
    bad[at] ^= 0x40;
    WriteAll(bad);
    Status st = OpenStatus();
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << at;
    EXPECT_NE(st.message().find("header checksum mismatch"), std::string::npos) << st.message();
  }
}

TEST_F(HnswFileTest, HnswSizeMismatchIsCorruption) {
  ASSERT_TRUE(MakeIndex()->Save(*Env::Default(), path_, 1).ok());
  std::vector<uint8_t> bytes = ReadAll();
  // Claim one more slot than the sections hold (with a valid checksum, as a
  // buggy writer would).
  uint32_t slots;
  std::memcpy(&slots, bytes.data() + 52, 4);
  ++slots;
  std::memcpy(bytes.data() + 52, &slots, 4);
  FixHeaderCrc(bytes);
  WriteAll(bytes);
  Status st = OpenStatus();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("size mismatch"), std::string::npos) << st.message();
}

TEST_F(HnswFileTest, HnswFlippedSectionByteFailsVerify) {
  ASSERT_TRUE(MakeIndex()->Save(*Env::Default(), path_, 1).ok());
  std::vector<uint8_t> bytes = ReadAll();
  bytes[1024] ^= 0x01;  // inside the vectors section
  WriteAll(bytes);
  auto opened = HnswIndex::Open(*Env::Default(), path_);  // O(1) open does not read it
  ASSERT_TRUE(opened.ok());
  Status st = (*opened)->Verify();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("'vectors'"), std::string::npos) << st.message();
  EXPECT_EQ(HnswIndex::Open(*Env::Default(), path_, {.verify_checksums = true}).status().code(),
            StatusCode::kCorruption);
}

// A save that fails part-way (disk full, failed sync or rename) leaves the
// previous file readable and unchanged, and no temporary file behind.
TEST_F(HnswFileTest, HnswFailedSaveKeepsPreviousFile) {
  auto index = MakeIndex();
  ASSERT_TRUE(index->Save(*Env::Default(), path_, 7).ok());
  const std::vector<uint8_t> before = ReadAll();
  ASSERT_TRUE(index->Insert(999999, {data_.data(), kDim}).ok());

  FaultInjectionEnv env(Env::Default());
  for (int fault = 0; fault < 4; ++fault) {
    env.Reset();
    if (fault == 0) env.FailWritesAfter(4096);
    if (fault == 1) env.FailWritesAfter(0);
    if (fault == 2) env.FailSync(true);
    if (fault == 3) env.FailRename(true);
    Status st = index->Save(env, path_, 8);
    EXPECT_FALSE(st.ok()) << fault;
    if (fault <= 1) {
      EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
    }
    EXPECT_EQ(ReadAll(), before) << fault;
    auto opened = HnswIndex::Open(*Env::Default(), path_, {.verify_checksums = true});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ((*opened)->applied_seq(), 7u);
    EXPECT_FALSE((*opened)->Contains(999999));
    EXPECT_FALSE(env.FileExists(path_ + ".tmp." + std::to_string(::getpid())));
  }
  env.Reset();
  ASSERT_TRUE(index->Save(env, path_, 8).ok());
  EXPECT_GT(env.bytes_written(), 0);
  auto opened = HnswIndex::Open(env, path_);
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE((*opened)->Contains(999999));
  EXPECT_EQ((*opened)->applied_seq(), 8u);
}

}  // namespace
}  // namespace nodespace::vector
