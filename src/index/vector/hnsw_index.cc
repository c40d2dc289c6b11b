#include "index/vector/hnsw_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "index/vector/crc32c.h"
#include "index/vector/distance.h"
#include "index/vector/flat_index.h"

namespace nodespace::vector {

static_assert(std::endian::native == std::endian::little,
              "the index file is little-endian and read in place");

namespace {

// ---- file layout (docs/formats/vector-index.md) --------------------------
constexpr char kMagic[8] = {'N', 'S', 'V', 'H', 'N', 'S', 'W', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 512;
constexpr size_t kHeaderCrcOffset = kHeaderSize - 4;
constexpr size_t kSectionTableOffset = 104;
constexpr size_t kSectionEntrySize = 24;
constexpr size_t kSectionAlign = 64;
constexpr uint32_t kFlagInt8 = 1;
constexpr uint32_t kFlagQuantizerTrained = 2;
constexpr int kMaxLevel = 31;

enum SectionId : size_t {
  kSecVectors,
  kSecLinks0,
  kSecLabels,
  kSecLevels,
  kSecFlags,
  kSecUpperOffsets,
  kSecUpperLinks,
  kSecLabelIndex,
  kSecQuantParams,
  kSecCodes,
  kSecCodeNorms,
  kSectionCount
};
constexpr const char* kSectionNames[kSectionCount] = {
    "vectors",     "links0",      "labels",      "levels",     "flags",          "upper_offsets",
    "upper_links", "label_index", "int8_params", "int8_codes", "int8_code_norms"};
static_assert(kSectionTableOffset + kSectionCount * kSectionEntrySize <= kHeaderCrcOffset);

void PutU32(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
void PutU64(uint8_t* p, uint64_t v) {
  std::memcpy(p, &v, 8);
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// SplitMix64: tiny, fast, and its whole state is one word we can store.
uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool CloserFirst(const SearchContext::Candidate& a, const SearchContext::Candidate& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot);
}
// Heap orders: the candidate queue pops the closest, the result heap the farthest.
bool FartherFirst(const SearchContext::Candidate& a, const SearchContext::Candidate& b) {
  return CloserFirst(b, a);
}

inline void PrefetchLines(const void* p, int lines) {
  const char* c = static_cast<const char*>(p);
  for (int i = 0; i < lines; ++i) __builtin_prefetch(c + 64 * i, 0, 3);
}

SearchContext& ThreadContext() {
  static thread_local SearchContext ctx;
  return ctx;
}

}  // namespace

void SearchContext::Begin(size_t slots) {
  if (marks_.size() < slots) marks_.resize(slots, 0);
  if (++epoch_ == 0) {
    std::fill(marks_.begin(), marks_.end(), 0);
    epoch_ = 1;
  }
  candidates_.clear();
  results_.clear();
}

// ---- construction ---------------------------------------------------------

HnswIndex::HnswIndex(const HnswOptions& options)
    : options_(options),
      m0_(2 * options.m),
      dist_(GetDistanceFn(options.metric)),
      level_mult_(options.m > 1 ? 1.0 / std::log(static_cast<double>(options.m)) : 1.0),
      rng_state_(options.seed) {}

HnswIndex::~HnswIndex() = default;

Status HnswIndex::CheckOptions() const {
  if (options_.dim == 0 || options_.dim > 65536) {
    return Status::InvalidArgument("dim must be in 1..65536, got " + std::to_string(options_.dim));
  }
  if (options_.m < 2 || options_.m > 256) {
    return Status::InvalidArgument("m must be in 2..256, got " + std::to_string(options_.m));
  }
  if (options_.ef_construction == 0) return Status::InvalidArgument("ef_construction must be > 0");
  if (options_.metric != Metric::kCosine && options_.metric != Metric::kDot &&
      options_.metric != Metric::kL2) {
    return Status::InvalidArgument("unknown metric");
  }
  return Status::OK();
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::Create(const HnswOptions& options) {
  std::unique_ptr<HnswIndex> index(new HnswIndex(options));
  NS_RETURN_IF_ERROR(index->CheckOptions());
  return index;
}

void HnswIndex::Reserve(size_t slots) {
  EnsureMutable();
  own_vectors_.reserve((slots > file_float_slots_ ? slots - file_float_slots_ : 0) * options_.dim);
  own_links0_.reserve(slots * (m0_ + 1));
  own_labels_.reserve(slots);
  own_levels_.reserve(slots);
  own_flags_.reserve(slots);
  own_upper_offsets_.reserve(slots);
  slot_of_.reserve(slots);
  RefreshViews();
}

// ---- storage --------------------------------------------------------------

void HnswIndex::RefreshViews() {
  vectors_ = own_vectors_.data();
  links0_ = own_links0_.data();
  labels_ = own_labels_.data();
  levels_ = own_levels_.data();
  flags_ = own_flags_.data();
  upper_offsets_ = own_upper_offsets_.data();
  upper_links_ = own_upper_links_.data();
  upper_links_size_ = own_upper_links_.size();
  codes_ = own_codes_.data();
  code_norms_ = own_code_norms_.data();
}

void HnswIndex::EnsureMutable() {
  if (mapping_ == nullptr) return;
  const size_t n = slot_count_;
  if (quantizer_.trained()) {
    // The floats stay in the file (see file_floats_); new slots get theirs
    // in memory. Released float pages stay released.
    float_file_ = mapping_;
    file_floats_ = vectors_;
    file_float_slots_ = slot_count_;
    file_floats_crc_ = mapped_sections_.size() > kSecVectors
                           ? mapped_sections_[kSecVectors].crc
                           : Crc32c(vectors_, n * options_.dim * sizeof(float));
    own_vectors_.clear();
  } else {
    own_vectors_.assign(vectors_, vectors_ + n * options_.dim);
    floats_released_ = false;
  }
  own_links0_.assign(links0_, links0_ + n * (m0_ + 1));
  own_labels_.assign(labels_, labels_ + n);
  own_levels_.assign(levels_, levels_ + n);
  own_flags_.assign(flags_, flags_ + n);
  own_upper_offsets_.assign(upper_offsets_, upper_offsets_ + n);
  own_upper_links_.assign(upper_links_, upper_links_ + upper_links_size_);
  // Codes computed by Quantize() on a mapped index are owned already.
  if (quantizer_.trained() && codes_ != own_codes_.data()) {
    own_codes_.assign(codes_, codes_ + n * options_.dim);
    own_code_norms_.assign(code_norms_, code_norms_ + n);
  }
  slot_of_.clear();
  slot_of_.reserve(live_count_);
  for (uint32_t s = 0; s < n; ++s) {
    if (own_flags_[s] & 1) {
      free_slots_.push(s);
    } else {
      slot_of_.emplace(own_labels_[s], s);
    }
  }
  mapped_label_index_ = nullptr;
  mapped_label_count_ = 0;
  mapped_sections_.clear();
  mapping_.reset();
  RefreshViews();
}

void HnswIndex::OwnFileFloats() {
  if (file_float_slots_ == 0) return;
  const size_t dim = options_.dim;
  std::vector<float> all(size_t{slot_count_} * dim);
  for (uint32_t s = 0; s < file_float_slots_; ++s) {
    float* into = all.data() + size_t{s} * dim;
    const float* v = ReadVector(s, into);
    if (v != into) std::copy(v, v + dim, into);
  }
  std::copy(own_vectors_.begin(), own_vectors_.end(),
            all.begin() + static_cast<std::ptrdiff_t>(size_t{file_float_slots_} * dim));
  own_vectors_ = std::move(all);
  float_file_.reset();
  file_floats_ = nullptr;
  file_float_slots_ = 0;
  floats_released_ = false;
  RefreshViews();
}

const MappedFile* HnswIndex::FloatFileOf(uint32_t slot) const {
  // Released pages are those of the mapped index, or of the file that keeps
  // the floats of a changed one; floats of later slots are in memory.
  return mapping_ != nullptr        ? mapping_.get()
         : slot < file_float_slots_ ? float_file_.get()
                                    : nullptr;
}

void HnswIndex::AnnounceVectorRead(uint32_t slot) const {
  if (!floats_released_.load(std::memory_order_relaxed)) return;
  if (const MappedFile* file = FloatFileOf(slot)) {
    file->WillRead(reinterpret_cast<const uint8_t*>(VectorAt(slot)), options_.dim * sizeof(float));
  }
}

const float* HnswIndex::ReadVector(uint32_t slot, float* scratch) const {
  const float* v = VectorAt(slot);
  if (!floats_released_.load(std::memory_order_relaxed)) return v;
  const MappedFile* file = FloatFileOf(slot);
  if (file == nullptr) return v;
  const size_t bytes = options_.dim * sizeof(float);
  return file->ReadInto(reinterpret_cast<const uint8_t*>(v), bytes, scratch) ? scratch : v;
}

uint32_t HnswIndex::FindSlot(int64_t label) const {
  if (mapping_ != nullptr) {
    const MappedLabelEntry* begin = mapped_label_index_;
    const MappedLabelEntry* end = begin + mapped_label_count_;
    const MappedLabelEntry* it = std::lower_bound(
        begin, end, label, [](const MappedLabelEntry& e, int64_t l) { return e.label < l; });
    if (it == end || it->label != label || it->slot >= slot_count_) return kNoSlot;
    return static_cast<uint32_t>(it->slot);
  }
  auto it = slot_of_.find(label);
  return it == slot_of_.end() ? kNoSlot : it->second;
}

std::vector<uint32_t> HnswIndex::SlotsOf(std::span<const int64_t> sorted_labels) const {
  std::vector<uint32_t> slots;
  slots.reserve(sorted_labels.size());
  if (mapping_ == nullptr) {
    for (int64_t label : sorted_labels) {
      const uint32_t s = FindSlot(label);
      if (s != kNoSlot) slots.push_back(s);
    }
    return slots;
  }
  // The mapped label index is sorted too. Each label's entry is guessed by
  // interpolation from the previous match (exact when labels are dense, as
  // rowids usually are), then bracketed by galloping from the guess: one or
  // two cache misses per label instead of the eight or so of a fresh binary
  // search over 1M entries.
  const MappedLabelEntry* const begin = mapped_label_index_;
  const MappedLabelEntry* const end = begin + mapped_label_count_;
  if (begin == end) return slots;
  auto before = [](const MappedLabelEntry& e, int64_t l) { return e.label < l; };
  const int64_t last_label = end[-1].label;
  const MappedLabelEntry* it = begin;  // no entry before it is >= the next label
  auto interpolate = [&](int64_t label) {
    if (label <= it->label || last_label <= it->label) return it;
    const double fraction =
        static_cast<double>(label - it->label) / static_cast<double>(last_label - it->label);
    return it + static_cast<ptrdiff_t>(fraction * static_cast<double>(end - 1 - it));
  };
  // Each guess depends on the previous match, so without help the misses
  // come one after another. The entry a label a few places ahead will most
  // likely land on is guessed from the current match and fetched now.
  constexpr size_t kAhead = 8;
  int64_t previous = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < sorted_labels.size(); ++i) {
    const int64_t label = sorted_labels[i];
    if (label < previous) it = begin;  // not sorted after all: start over
    previous = label;
    if (it == end || label > last_label) continue;
    if (i + kAhead < sorted_labels.size() && sorted_labels[i + kAhead] <= last_label) {
      __builtin_prefetch(interpolate(sorted_labels[i + kAhead]));
    }
    const MappedLabelEntry* guess = interpolate(label);
    // Bracket [lo, hi) around the first entry >= label.
    const MappedLabelEntry* lo = it;
    const MappedLabelEntry* hi = end;
    if (guess->label < label) {
      lo = guess + 1;
      for (size_t step = 1;; step *= 2) {
        if (static_cast<size_t>(end - lo) <= step) break;
        if (lo[step - 1].label >= label) {
          hi = lo + step;
          break;
        }
        lo += step;
      }
    } else {
      hi = guess + 1;
      for (size_t step = 1;; step *= 2) {
        if (static_cast<size_t>(hi - 1 - it) <= step) break;
        if (hi[-1 - static_cast<ptrdiff_t>(step)].label < label) {
          lo = hi - step;
          break;
        }
        hi -= step;
      }
    }
    it = std::lower_bound(lo, hi, label, before);
    if (it != end && it->label == label && it->slot < slot_count_) {
      slots.push_back(static_cast<uint32_t>(it->slot));
    }
  }
  return slots;
}

int HnswIndex::RandomLevel() {
  // (0, 1]: never log(0).
  double u = (static_cast<double>(NextRandom(rng_state_) >> 11) + 1.0) * 0x1.0p-53;
  int level = static_cast<int>(-std::log(u) * level_mult_);
  return std::min(level, kMaxLevel);
}

uint32_t HnswIndex::AllocateSlot(int64_t label) {
  uint32_t slot = slot_count_++;
  int level = RandomLevel();
  own_vectors_.resize(own_vectors_.size() + options_.dim);
  own_links0_.resize(own_links0_.size() + m0_ + 1, 0);
  own_labels_.push_back(label);
  own_levels_.push_back(static_cast<uint8_t>(level));
  own_flags_.push_back(0);
  own_upper_offsets_.push_back(level > 0 ? static_cast<uint32_t>(own_upper_links_.size()) : 0);
  own_upper_links_.resize(own_upper_links_.size() + size_t(level) * (options_.m + 1), 0);
  if (quantizer_.trained()) {
    own_codes_.resize(own_codes_.size() + options_.dim);
    own_code_norms_.push_back(0);
  }
  RefreshViews();
  return slot;
}

void HnswIndex::StoreVector(uint32_t slot, const std::vector<float>& v) {
  // A new vector for a slot whose floats are in the file (an update, or a
  // freed slot reused): the file cannot take it, so memory takes them all.
  if (slot < file_float_slots_) OwnFileFloats();
  std::copy(v.begin(), v.end(),
            own_vectors_.begin() +
                static_cast<std::ptrdiff_t>(size_t{slot - file_float_slots_} * options_.dim));
  if (quantizer_.trained()) {
    uint8_t* code = own_codes_.data() + size_t{slot} * options_.dim;
    quantizer_.Encode(v.data(), code);
    own_code_norms_[slot] = quantizer_.CodeSquaredNorm(code);
  }
}

// ---- graph ----------------------------------------------------------------

template <typename DistFn>
uint32_t HnswIndex::GreedyClosest(uint32_t cur, float* cur_dist, int level, DistFn&& dist,
                                  SearchStats& stats) const {
  bool changed = true;
  while (changed) {
    changed = false;
    const uint32_t* links = LinksAt(cur, level);
    // Bounds are checked so that a damaged file (Verify() was not run) gives
    // poor results instead of a crash.
    const uint32_t count = std::min(links[0], MaxLinks(level));
    ++stats.nodes_visited;
    for (uint32_t i = 1; i <= count; ++i) {
      const uint32_t n = links[i];
      if (n >= slot_count_) continue;
      const float d = dist(n);
      if (d < *cur_dist) {
        *cur_dist = d;
        cur = n;
        changed = true;
      }
    }
  }
  return cur;
}

template <typename DistFn, typename AcceptFn, typename PrefetchFn>
void HnswIndex::SearchLevel(uint32_t entry, float entry_dist, int level, size_t ef, size_t side_k,
                            DistFn&& dist, AcceptFn&& accept, PrefetchFn&& prefetch,
                            SearchContext& ctx, SearchStats& stats) const {
  auto& cand = ctx.candidates_;
  auto& res = ctx.results_;
  auto& side = ctx.side_;
  cand.clear();
  res.clear();
  side.clear();
  // Side-heap mode (side_k > 0): the beam holds every node, as in an
  // unfiltered walk, so the walk stops as early as one; every admitted node
  // that gets scored on the way competes for the side heap of side_k. Without
  // it (side_k == 0) only admitted nodes enter the beam.
  const bool side_mode = side_k > 0;
  auto offer_side = [&](float d, uint32_t n) {
    if (side.size() < side_k) {
      side.push_back({d, n});
      std::push_heap(side.begin(), side.end(), CloserFirst);
    } else if (CloserFirst({d, n}, side.front())) {
      std::pop_heap(side.begin(), side.end(), CloserFirst);
      side.back() = {d, n};
      std::push_heap(side.begin(), side.end(), CloserFirst);
    }
  };
  float bound = std::numeric_limits<float>::infinity();  // admits anything until res is full
  ctx.Visit(entry);
  cand.push_back({entry_dist, entry});
  const bool entry_ok = accept(entry);
  if (side_mode && entry_ok) offer_side(entry_dist, entry);
  if (side_mode || entry_ok) {
    res.push_back({entry_dist, entry});
    if (res.size() >= ef) bound = entry_dist;
  }
  while (!cand.empty()) {
    const Candidate c = cand.front();
    if (c.distance > bound) break;
    std::pop_heap(cand.begin(), cand.end(), FartherFirst);
    cand.pop_back();
    if (!cand.empty()) __builtin_prefetch(LinksAt(cand.front().slot, level), 0, 3);
    ++stats.nodes_visited;

    const uint32_t* links = LinksAt(c.slot, level);
    const uint32_t count = std::min(links[0], MaxLinks(level));
    for (uint32_t i = 1; i <= count; ++i) __builtin_prefetch(&ctx.marks_[links[i]], 1, 3);
    if (count > 0) prefetch(links[1]);
    for (uint32_t i = 1; i <= count; ++i) {
      const uint32_t n = links[i];
      if (n >= slot_count_) continue;
      if (i < count) prefetch(links[i + 1]);
      if (!ctx.Visit(n)) continue;
      const float d = dist(n);
      const bool ok = accept(n);
      if (!ok) ++stats.filtered_out;
      if (side_mode && ok) offer_side(d, n);
      if (d >= bound) continue;
      cand.push_back({d, n});
      std::push_heap(cand.begin(), cand.end(), FartherFirst);
      if (side_mode || ok) {
        res.push_back({d, n});
        std::push_heap(res.begin(), res.end(), CloserFirst);
        if (res.size() > ef) {
          std::pop_heap(res.begin(), res.end(), CloserFirst);
          res.pop_back();
        }
        if (res.size() >= ef) bound = res.front().distance;
      }
    }
  }
  if (side_mode) res.swap(side);
}

void HnswIndex::SelectNeighbors(std::vector<Candidate>& cands, uint32_t max_count) const {
  if (cands.size() < max_count) return;
  std::vector<Candidate> kept;
  kept.reserve(max_count);
  for (const Candidate& c : cands) {
    if (kept.size() >= max_count) break;
    bool good = true;
    for (const Candidate& r : kept) {
      if (SlotDistance(c.slot, r.slot) < c.distance) {
        good = false;
        break;
      }
    }
    if (good) kept.push_back(c);
  }
  cands.swap(kept);
}

void HnswIndex::AddLink(uint32_t from, uint32_t to, int level) {
  uint32_t* links = MutableLinksAt(from, level);
  const uint32_t count = links[0];
  const uint32_t max_count = MaxLinks(level);
  for (uint32_t i = 1; i <= count; ++i) {
    if (links[i] == to) return;
  }
  if (count < max_count) {
    links[1 + count] = to;
    links[0] = count + 1;
    return;
  }
  std::vector<Candidate> cands;
  cands.reserve(count + 1);
  cands.push_back({SlotDistance(from, to), to});
  for (uint32_t i = 1; i <= count; ++i) cands.push_back({SlotDistance(from, links[i]), links[i]});
  std::sort(cands.begin(), cands.end(), CloserFirst);
  SelectNeighbors(cands, max_count);
  links[0] = static_cast<uint32_t>(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) links[1 + i] = cands[i].slot;
}

void HnswIndex::Connect(uint32_t slot, uint32_t entry, int entry_level) {
  const int level = levels_[slot];
  const float* q = VectorAt(slot);
  const size_t dim = options_.dim;
  auto dist = [&](uint32_t n) { return dist_(q, VectorAt(n), dim); };
  auto accept = [&](uint32_t n) { return n != slot && !IsDeleted(n); };
  auto prefetch = [&](uint32_t n) { PrefetchLines(VectorAt(n), 2); };
  SearchStats stats;
  uint32_t cur = entry;
  float cur_dist = dist(cur);
  for (int l = entry_level; l > level; --l) cur = GreedyClosest(cur, &cur_dist, l, dist, stats);
  std::vector<Candidate> cands;
  for (int l = std::min(level, entry_level); l >= 0; --l) {
    build_ctx_.Begin(slot_count_);
    build_ctx_.Visit(slot);  // stale in-links may still point here
    SearchLevel(cur, cur_dist, l, options_.ef_construction, 0, dist, accept, prefetch, build_ctx_,
                stats);
    cands.assign(build_ctx_.results_.begin(), build_ctx_.results_.end());
    std::sort(cands.begin(), cands.end(), CloserFirst);
    if (cands.empty()) continue;
    cur = cands[0].slot;
    cur_dist = cands[0].distance;
    SelectNeighbors(cands, options_.m);
    uint32_t* links = MutableLinksAt(slot, l);
    links[0] = static_cast<uint32_t>(cands.size());
    for (size_t i = 0; i < cands.size(); ++i) links[1 + i] = cands[i].slot;
    for (const Candidate& c : cands) AddLink(c.slot, slot, l);
  }
}

void HnswIndex::Unlink(uint32_t slot) {
  // Only nodes the old node linked to are visited: HNSW links are mostly
  // mutual, and an in-link we miss keeps pointing at this slot, i.e. at the
  // node that replaces it, which is still a valid (if less apt) edge.
  std::vector<uint32_t> old;
  for (int l = 0; l <= levels_[slot]; ++l) {
    const uint32_t* links = LinksAt(slot, l);
    old.assign(links + 1, links + 1 + links[0]);
    for (uint32_t n : old) {
      if (n == slot || IsDeleted(n)) continue;
      uint32_t* nl = MutableLinksAt(n, l);
      uint32_t count = nl[0];
      uint32_t pos = 0;
      while (pos < count && nl[1 + pos] != slot) ++pos;
      if (pos == count) continue;
      nl[1 + pos] = nl[count];
      nl[0] = --count;
      // Patch the hole with the old node's closest other neighbour that n
      // does not already link to: one distance per old neighbour instead of
      // a full re-selection.
      uint32_t best = kNoSlot;
      float best_dist = std::numeric_limits<float>::infinity();
      for (uint32_t c : old) {
        if (c == n || c == slot || IsDeleted(c)) continue;
        bool present = false;
        for (uint32_t i = 1; i <= count && !present; ++i) present = nl[i] == c;
        if (present) continue;
        float d = SlotDistance(n, c);
        if (d < best_dist) {
          best_dist = d;
          best = c;
        }
      }
      if (best != kNoSlot) {
        nl[1 + count] = best;
        nl[0] = count + 1;
      }
    }
    MutableLinksAt(slot, l)[0] = 0;
  }
}

std::pair<uint32_t, int> HnswIndex::EntryAvoiding(uint32_t avoid) const {
  if (entry_point_ != avoid) return {entry_point_, max_level_};
  for (int l = levels_[avoid]; l >= 0; --l) {
    const uint32_t* links = LinksAt(avoid, l);
    if (links[0] > 0) return {links[1], l};
  }
  return {kNoSlot, -1};
}

// ---- mutations ------------------------------------------------------------

Status HnswIndex::Insert(int64_t label, std::span<const float> vec) {
  NS_ASSIGN_OR_RETURN(std::vector<float> v, CheckVector(vec, options_.dim, options_.metric));
  if (FindSlot(label) != kNoSlot) {
    return Status::AlreadyExists("label " + std::to_string(label) + " is already in the index");
  }
  EnsureMutable();
  uint32_t slot;
  std::pair<uint32_t, int> entry{kNoSlot, -1};
  if (!free_slots_.empty()) {
    if (slot_count_ == std::numeric_limits<uint32_t>::max() - 1) {
      return Status::ResourceExhausted("vector index is full");
    }
    slot = free_slots_.top();
    free_slots_.pop();
    entry = EntryAvoiding(slot);
    Unlink(slot);
    own_labels_[slot] = label;
    own_flags_[slot] = 0;
  } else {
    if (slot_count_ >= std::numeric_limits<uint32_t>::max() - 1) {
      return Status::ResourceExhausted("vector index is full");
    }
    slot = AllocateSlot(label);
    if (entry_point_ != kNoSlot) entry = {entry_point_, max_level_};
  }
  StoreVector(slot, v);
  slot_of_.emplace(label, slot);
  ++live_count_;
  if (entry_point_ == kNoSlot) {
    entry_point_ = slot;
    max_level_ = levels_[slot];
  } else if (entry.first != kNoSlot) {
    Connect(slot, entry.first, entry.second);
    if (levels_[slot] > max_level_) {
      entry_point_ = slot;
      max_level_ = levels_[slot];
    }
  }
  if (options_.int8 && !quantizer_.trained() && live_count_ >= options_.int8_train_size) {
    return TrainQuantizer();
  }
  return Status::OK();
}

Status HnswIndex::Update(int64_t label, std::span<const float> vec) {
  NS_ASSIGN_OR_RETURN(std::vector<float> v, CheckVector(vec, options_.dim, options_.metric));
  const uint32_t slot = FindSlot(label);
  if (slot == kNoSlot)
    return Status::NotFound("label " + std::to_string(label) + " not in the index");
  // The same vector again (a node whose text changed, a change replayed
  // after a rebuild that already read it): its links are still right, and
  // a mapped index stays mapped instead of being copied into memory.
  if (std::equal(v.begin(), v.end(), VectorAt(slot))) return Status::OK();
  EnsureMutable();  // slots keep their numbers
  // Rewrite the slot in place: detach the old vector, store the new one and
  // link it as if inserted, keeping the slot's level.
  std::pair<uint32_t, int> entry = EntryAvoiding(slot);
  Unlink(slot);
  StoreVector(slot, v);
  if (entry.first != kNoSlot) Connect(slot, entry.first, entry.second);
  return Status::OK();
}

Status HnswIndex::Upsert(int64_t label, std::span<const float> vec) {
  return Contains(label) ? Update(label, vec) : Insert(label, vec);
}

Status HnswIndex::Remove(int64_t label) {
  EnsureMutable();
  auto it = slot_of_.find(label);
  if (it == slot_of_.end())
    return Status::NotFound("label " + std::to_string(label) + " not in the index");
  const uint32_t slot = it->second;
  slot_of_.erase(it);
  own_flags_[slot] |= 1;
  --live_count_;
  free_slots_.push(slot);
  return Status::OK();
}

Status HnswIndex::Compact() {
  EnsureMutable();
  HnswIndex fresh(options_);
  fresh.Reserve(live_count_);
  for (uint32_t s = 0; s < slot_count_; ++s) {
    if (IsDeleted(s)) continue;
    NS_RETURN_IF_ERROR(fresh.Insert(labels_[s], std::span<const float>(VectorAt(s), options_.dim)));
  }
  if (quantizer_.trained() && !fresh.quantizer_.trained())
    NS_RETURN_IF_ERROR(fresh.TrainQuantizer());
  // Take over the rebuilt state; options, applied_seq and the RNG position of
  // the rebuild carry over.
  rng_state_ = fresh.rng_state_;
  slot_count_ = fresh.slot_count_;
  live_count_ = fresh.live_count_;
  entry_point_ = fresh.entry_point_;
  max_level_ = fresh.max_level_;
  quantizer_ = std::move(fresh.quantizer_);
  own_vectors_ = std::move(fresh.own_vectors_);
  own_links0_ = std::move(fresh.own_links0_);
  own_labels_ = std::move(fresh.own_labels_);
  own_levels_ = std::move(fresh.own_levels_);
  own_flags_ = std::move(fresh.own_flags_);
  own_upper_offsets_ = std::move(fresh.own_upper_offsets_);
  own_upper_links_ = std::move(fresh.own_upper_links_);
  own_codes_ = std::move(fresh.own_codes_);
  own_code_norms_ = std::move(fresh.own_code_norms_);
  slot_of_ = std::move(fresh.slot_of_);
  free_slots_ = std::move(fresh.free_slots_);
  own_vectors_.shrink_to_fit();
  float_file_.reset();
  file_floats_ = nullptr;
  file_float_slots_ = 0;
  floats_released_ = false;
  RefreshViews();
  return Status::OK();
}

Status HnswIndex::TrainQuantizer() {
  if (!options_.int8) {
    return Status::InvalidArgument("int8 quantisation is off; create the index with options.int8");
  }
  EnsureMutable();
  TrainAndEncode();
  RefreshViews();
  return Status::OK();
}

Status HnswIndex::Quantize() {
  if (quantizer_.trained()) return Status::OK();
  options_.int8 = true;
  if (mapping_ == nullptr) return TrainQuantizer();
  // Mapped: every other section stays in the file; the codes are owned and
  // the views of the mapped sections are left as they are.
  TrainAndEncode();
  codes_ = own_codes_.data();
  code_norms_ = own_code_norms_.data();
  return Status::OK();
}

void HnswIndex::TrainAndEncode() {
  quantizer_ = Int8Quantizer::Train(vectors_, slot_count_, options_.dim);
  own_codes_.assign(size_t{slot_count_} * options_.dim, 0);
  own_code_norms_.assign(slot_count_, 0);
  for (uint32_t s = 0; s < slot_count_; ++s) {
    uint8_t* code = own_codes_.data() + size_t{s} * options_.dim;
    quantizer_.Encode(VectorAt(s), code);
    own_code_norms_[s] = quantizer_.CodeSquaredNorm(code);
  }
}

HnswIndex::WarmRanges HnswIndex::RangesToWarm() const {
  WarmRanges out;
  if (mapping_ == nullptr) return out;
  out.file = mapping_;
  const uint8_t* begin = mapping_->data();
  const uint8_t* end = begin + mapping_->size();
  if (!floats_released_.load(std::memory_order_relaxed)) {
    out.ranges.emplace_back(begin, mapping_->size());
    return out;
  }
  const auto* floats = reinterpret_cast<const uint8_t*>(vectors_);
  const uint8_t* floats_end = floats + size_t{slot_count_} * options_.dim * sizeof(float);
  if (floats > begin) out.ranges.emplace_back(begin, static_cast<size_t>(floats - begin));
  if (end > floats_end) out.ranges.emplace_back(floats_end, static_cast<size_t>(end - floats_end));
  return out;
}

size_t HnswIndex::ReleaseVectorPages() const {
  if (!quantizer_.trained()) return 0;
  if (mapping_ != nullptr) {
    floats_released_ = true;
    return mapping_->ReleasePages(reinterpret_cast<const uint8_t*>(vectors_),
                                  size_t{slot_count_} * options_.dim * sizeof(float));
  }
  if (file_float_slots_ == 0) return 0;
  floats_released_ = true;
  return float_file_->ReleasePages(reinterpret_cast<const uint8_t*>(file_floats_),
                                   size_t{file_float_slots_} * options_.dim * sizeof(float));
}

// ---- search ---------------------------------------------------------------

Result<std::vector<float>> HnswIndex::CheckQuery(std::span<const float> query) const {
  return CheckVector(query, options_.dim, options_.metric);
}

double HnswIndex::AdmittedFraction(int64_t allowed_count) const {
  // Tombstones and filtered-out nodes both thin the graph.
  double allowed = live_count_;
  if (allowed_count >= 0) allowed = std::min(allowed, static_cast<double>(allowed_count));
  return slot_count_ > 0 ? allowed / slot_count_ : 1.0;
}

size_t HnswIndex::RescoreCount(size_t k) const {
  // Re-scoring repairs the order near the cut-off, which a code's error
  // (half a step per dimension) moves by a few ranks, not by a multiple of
  // k: a large k (a caller filtering thousands of hits afterwards) keeps
  // kMaxRescoreMargin extra candidates instead of (factor - 1) x k, each of
  // which costs a float read (a pread once the floats are released).
  const size_t factor = std::max<size_t>(options_.rescore_factor, 1);
  return std::max(k, std::min(k * factor, k + kMaxRescoreMargin));
}

size_t HnswIndex::FilteredBeam(size_t k, size_t ef, int64_t allowed_count) const {
  return EffectiveEf(k, ef, AdmittedFraction(std::max<int64_t>(allowed_count, 0)));
}

size_t HnswIndex::EffectiveEf(size_t k, size_t ef, double admitted) const {
  size_t beam = std::max(ef == 0 ? size_t{options_.ef_search} : ef, k);
  if (admitted >= 1.0) return beam;
  // Below kSideHeapBelow the beam holds every node, so the walk explores as
  // an unfiltered one does and the side heap collects the admitted nodes it
  // scores on the way; the beam only needs room for about 2k admitted ones.
  // (Widening it by sqrt(1/fraction) as well bought no recall that mattered:
  // at 1M and 10 % admitted, beam 607 gave recall@10 0.984 in 2.2-2.9x the
  // unfiltered p95, beam 200 gives 0.970 in 0.8-1.2x.) Above it only admitted
  // nodes enter the beam, which must widen as they thin out.
  const double inverse = 1.0 / std::max(admitted, 1e-6);
  const double widened =
      admitted < kSideHeapBelow
          ? std::max(static_cast<double>(beam), 2.0 * static_cast<double>(k) * inverse)
          : std::min(static_cast<double>(beam) * std::sqrt(inverse),
                     4.0 * static_cast<double>(beam));
  const double cap = std::max<double>(static_cast<double>(beam), slot_count_);
  return static_cast<size_t>(std::ceil(std::min(widened, cap)));
}

Result<SearchResult> HnswIndex::Search(std::span<const float> query, size_t k, size_t ef,
                                       const Filter* filter, SearchContext* context,
                                       Rescore rescore_with_floats) const {
  NS_ASSIGN_OR_RETURN(std::vector<float> q, CheckQuery(query));
  SearchResult result;
  if (k == 0 || live_count_ == 0 || entry_point_ == kNoSlot) return result;
  SearchStats& stats = result.stats;
  SearchContext& ctx = context != nullptr ? *context : ThreadContext();
  const size_t dim = options_.dim;
  const double admitted = AdmittedFraction(filter != nullptr ? filter->AllowedCountHint() : -1);
  const bool side_heap = admitted < kSideHeapBelow;
  const size_t beam = EffectiveEf(k, ef, admitted);
  stats.ef_used = static_cast<uint32_t>(beam);
  auto accept = [&](uint32_t n) {
    return !IsDeleted(n) && (filter == nullptr || filter->Allowed(labels_[n]));
  };

  ctx.Begin(slot_count_);
  std::vector<Candidate> found;
  if (options_.int8 && quantizer_.trained()) {
    const Int8Quantizer::PreparedQuery pq = quantizer_.Prepare(q.data(), options_.metric);
    const bool l2 = options_.metric == Metric::kL2;
    auto dist = [&](uint32_t n) {
      ++stats.int8_distances;
      // Only L2 needs the code's norm (a cache miss of its own otherwise).
      return quantizer_.Distance(pq, codes_ + size_t{n} * dim, l2 ? code_norms_[n] : 0.0f);
    };
    // A code is a few lines (6 at 384 dims); fetching them all at once
    // overlaps their misses instead of taking the rest one by one.
    const int code_lines = static_cast<int>((dim + 63) / 64);
    auto prefetch = [&](uint32_t n) {
      PrefetchLines(codes_ + size_t{n} * dim, code_lines);
      // The filter asks for the node's label: another miss, as far apart.
      if (filter != nullptr) __builtin_prefetch(&labels_[n]);
    };
    uint32_t cur = entry_point_;
    float cur_dist = dist(cur);
    for (int l = max_level_; l > 0; --l) cur = GreedyClosest(cur, &cur_dist, l, dist, stats);
    const size_t rescore = RescoreCount(k);
    SearchLevel(cur, cur_dist, 0, beam, side_heap ? rescore : 0, dist, accept, prefetch, ctx,
                stats);
    found.assign(ctx.results_.begin(), ctx.results_.end());
    std::sort(found.begin(), found.end(), CloserFirst);
    found.resize(std::min(found.size(), rescore));
    if (rescore_with_floats == Rescore::kNone) {
      stats.code_distances = true;
      result.neighbors.reserve(found.size());
      for (const Candidate& c : found) result.neighbors.push_back({labels_[c.slot], c.distance});
      return result;
    }
    // Re-score the best candidates with the float vectors.
    for (const Candidate& c : found) AnnounceVectorRead(c.slot);
    std::vector<float> scratch(dim);
    for (Candidate& c : found) {
      c.distance = dist_(q.data(), ReadVector(c.slot, scratch.data()), dim);
      ++stats.distances_computed;
    }
  } else {
    auto dist = [&](uint32_t n) {
      ++stats.distances_computed;
      return dist_(q.data(), VectorAt(n), dim);
    };
    auto prefetch = [&](uint32_t n) {
      PrefetchLines(VectorAt(n), 2);
      if (filter != nullptr) __builtin_prefetch(&labels_[n]);
    };
    uint32_t cur = entry_point_;
    float cur_dist = dist(cur);
    for (int l = max_level_; l > 0; --l) cur = GreedyClosest(cur, &cur_dist, l, dist, stats);
    SearchLevel(cur, cur_dist, 0, beam, side_heap ? k : 0, dist, accept, prefetch, ctx, stats);
    found.assign(ctx.results_.begin(), ctx.results_.end());
  }
  std::sort(found.begin(), found.end(), CloserFirst);
  if (found.size() > k) found.resize(k);
  result.neighbors.reserve(found.size());
  for (const Candidate& c : found) result.neighbors.push_back({labels_[c.slot], c.distance});
  return result;
}

Result<SearchResult> HnswIndex::SearchExact(std::span<const float> query, size_t k,
                                            const Filter* filter) const {
  NS_ASSIGN_OR_RETURN(std::vector<float> q, CheckQuery(query));
  SearchResult result;
  result.stats.exact = true;
  internal::TopK top(k);
  for (uint32_t s = 0; s < slot_count_; ++s) {
    if (IsDeleted(s)) continue;
    if (filter != nullptr && !filter->Allowed(labels_[s])) {
      ++result.stats.filtered_out;
      continue;
    }
    top.Push(labels_[s], dist_(q.data(), VectorAt(s), options_.dim));
    ++result.stats.distances_computed;
  }
  result.neighbors = top.Take();
  return result;
}

Result<SearchResult> HnswIndex::SearchExactAllowed(std::span<const float> query, size_t k,
                                                   std::span<const int64_t> allowed) const {
  NS_ASSIGN_OR_RETURN(std::vector<float> q, CheckQuery(query));
  SearchResult result;
  result.stats.exact = true;
  // Slots first, in address order, so the scan reads the vector (or code)
  // block forwards and can prefetch a few ahead: a scan of 10K vectors at 1M
  // is bound by memory latency, not by the distances.
  std::vector<uint32_t> slots = SlotsOf(allowed);
  // Labels assigned in insertion order give slots in order already.
  if (!std::is_sorted(slots.begin(), slots.end())) std::sort(slots.begin(), slots.end());
  const size_t dim = options_.dim;
  std::vector<float> scratch(dim);
  constexpr size_t kAhead = 8;
  if (options_.int8 && quantizer_.trained()) {
    // What the graph walk does, over every allowed slot: 8-bit codes (a
    // quarter of the bytes) pick RescoreCount(k) candidates, floats
    // re-score them.
    const Int8Quantizer::PreparedQuery pq = quantizer_.Prepare(q.data(), options_.metric);
    const bool l2 = options_.metric == Metric::kL2;
    const int lines = static_cast<int>((dim + 63) / 64);
    const size_t rescore = RescoreCount(k);
    internal::TopK by_code(rescore);
    for (size_t i = 0; i < slots.size(); ++i) {
      if (i + kAhead < slots.size()) PrefetchLines(codes_ + size_t{slots[i + kAhead]} * dim, lines);
      const uint32_t s = slots[i];
      // Only L2 needs the code's norm: another cache miss per slot otherwise.
      by_code.Push(s, quantizer_.Distance(pq, codes_ + size_t{s} * dim, l2 ? code_norms_[s] : 0));
      ++result.stats.int8_distances;
    }
    internal::TopK top(k);
    const std::vector<Neighbor> candidates = by_code.Take();
    for (const Neighbor& c : candidates) AnnounceVectorRead(static_cast<uint32_t>(c.label));
    for (const Neighbor& c : candidates) {
      const uint32_t s = static_cast<uint32_t>(c.label);
      top.Push(labels_[s], dist_(q.data(), ReadVector(s, scratch.data()), dim));
      ++result.stats.distances_computed;
    }
    result.neighbors = top.Take();
    return result;
  }
  internal::TopK top(k);
  const bool in_memory = !floats_released_.load(std::memory_order_relaxed);
  const int lines = static_cast<int>((dim * sizeof(float) + 63) / 64);
  for (size_t i = 0; i < slots.size(); ++i) {
    if (in_memory && i + kAhead < slots.size()) PrefetchLines(VectorAt(slots[i + kAhead]), lines);
    const uint32_t s = slots[i];
    top.Push(labels_[s], dist_(q.data(), ReadVector(s, scratch.data()), dim));
    ++result.stats.distances_computed;
  }
  result.neighbors = top.Take();
  return result;
}

Result<std::vector<float>> HnswIndex::GetVector(int64_t label) const {
  uint32_t s = FindSlot(label);
  if (s == kNoSlot) return Status::NotFound("label " + std::to_string(label) + " not in the index");
  return std::vector<float>(VectorAt(s), VectorAt(s) + options_.dim);
}

size_t HnswIndex::MemoryUsage() const {
  size_t bytes = own_vectors_.capacity() * sizeof(float) +
                 own_links0_.capacity() * sizeof(uint32_t) +
                 own_labels_.capacity() * sizeof(int64_t) + own_levels_.capacity() +
                 own_flags_.capacity() + own_upper_offsets_.capacity() * sizeof(uint32_t) +
                 own_upper_links_.capacity() * sizeof(uint32_t) + own_codes_.capacity() +
                 own_code_norms_.capacity() * sizeof(float);
  // A node-based hash map: bucket array plus one heap node per entry.
  bytes += slot_of_.bucket_count() * sizeof(void*) + slot_of_.size() * 32;
  return bytes;
}

// ---- file -----------------------------------------------------------------

Status HnswIndex::Save(Env& env, const std::string& path, uint64_t applied_seq) const {
  const size_t n = slot_count_;
  const size_t dim = options_.dim;
  const bool trained = quantizer_.trained();
  std::vector<MappedLabelEntry> label_index;
  label_index.reserve(live_count_);
  for (uint32_t s = 0; s < n; ++s) {
    if (!IsDeleted(s)) label_index.push_back({labels_[s], s});
  }
  std::sort(label_index.begin(), label_index.end(),
            [](const MappedLabelEntry& a, const MappedLabelEntry& b) { return a.label < b.label; });
  std::vector<float> quant_params = trained ? quantizer_.Params() : std::vector<float>();

  struct Out {
    const void* data;
    size_t length;
  };
  // The float section is written from two places when the floats of the
  // first file_float_slots_ slots are in the file this index was opened
  // from (see file_floats_): those first, then the ones in memory.
  const size_t file_float_bytes = size_t{file_float_slots_} * dim * sizeof(float);
  Out sections[kSectionCount] = {
      {vectors_, n * dim * sizeof(float) - file_float_bytes},
      {links0_, n * (m0_ + 1) * sizeof(uint32_t)},
      {labels_, n * sizeof(int64_t)},
      {levels_, n},
      {flags_, n},
      {upper_offsets_, n * sizeof(uint32_t)},
      {upper_links_, upper_links_size_ * sizeof(uint32_t)},
      {label_index.data(), label_index.size() * sizeof(MappedLabelEntry)},
      {quant_params.data(), quant_params.size() * sizeof(float)},
      {codes_, trained ? n * dim : 0},
      {code_norms_, trained ? n * sizeof(float) : 0},
  };

  uint8_t header[kHeaderSize] = {};
  std::memcpy(header, kMagic, sizeof(kMagic));
  PutU32(header + 8, kFormatVersion);
  PutU32(header + 12, kHeaderSize);
  PutU32(header + 16, static_cast<uint32_t>(dim));
  PutU32(header + 20, static_cast<uint32_t>(options_.metric));
  PutU32(header + 24, options_.m);
  PutU32(header + 28, m0_);
  PutU32(header + 32, options_.ef_construction);
  PutU32(header + 36, options_.ef_search);
  PutU32(header + 40, (options_.int8 ? kFlagInt8 : 0) | (trained ? kFlagQuantizerTrained : 0));
  PutU32(header + 44, options_.int8_train_size);
  PutU32(header + 48, options_.rescore_factor);
  PutU32(header + 52, slot_count_);
  PutU32(header + 56, live_count_);
  PutU32(header + 60, entry_point_);
  PutU32(header + 64, static_cast<uint32_t>(max_level_));
  PutU32(header + 68, static_cast<uint32_t>(upper_links_size_));
  PutU64(header + 72, applied_seq);
  PutU64(header + 80, rng_state_);
  PutU64(header + 88, options_.seed);
  PutU32(header + 96, static_cast<uint32_t>(kSectionCount));
  size_t offset = kHeaderSize;
  size_t offsets[kSectionCount];
  for (size_t i = 0; i < kSectionCount; ++i) {
    offset = (offset + kSectionAlign - 1) / kSectionAlign * kSectionAlign;
    offsets[i] = offset;
    uint8_t* e = header + kSectionTableOffset + i * kSectionEntrySize;
    const size_t before = i == kSecVectors ? file_float_bytes : 0;
    uint32_t crc = before > 0 ? file_floats_crc_ : 0;
    if (sections[i].length > 0) crc = Crc32c(sections[i].data, sections[i].length, crc);
    PutU64(e, offset);
    PutU64(e + 8, before + sections[i].length);
    PutU32(e + 16, crc);
    offset += before + sections[i].length;
  }
  PutU32(header + kHeaderCrcOffset, Crc32c(header, kHeaderCrcOffset));

  NS_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFileWriter> w, AtomicFileWriter::Open(env, path));
  NS_RETURN_IF_ERROR(
      w->Append(std::string_view(reinterpret_cast<const char*>(header), kHeaderSize)));
  size_t written = kHeaderSize;
  static const char kZeros[kSectionAlign] = {};
  for (size_t i = 0; i < kSectionCount; ++i) {
    if (offsets[i] > written) {
      NS_RETURN_IF_ERROR(w->Append(std::string_view(kZeros, offsets[i] - written)));
      written = offsets[i];
    }
    if (i == kSecVectors && file_float_bytes > 0) {
      NS_RETURN_IF_ERROR(AppendFileFloats(*w));
      written += file_float_bytes;
    }
    if (sections[i].length == 0) continue;
    NS_RETURN_IF_ERROR(w->Append(
        std::string_view(static_cast<const char*>(sections[i].data), sections[i].length)));
    written += sections[i].length;
  }
  return w->Commit();
}

Status HnswIndex::AppendFileFloats(AtomicFileWriter& w) const {
  const auto* begin = reinterpret_cast<const uint8_t*>(file_floats_);
  const size_t total = size_t{file_float_slots_} * options_.dim * sizeof(float);
  if (!floats_released_.load(std::memory_order_relaxed)) {
    return w.Append(std::string_view(reinterpret_cast<const char*>(begin), total));
  }
  // Released pages are read with pread, not faulted back into this process.
  constexpr size_t kChunk = size_t{16} << 20;
  std::vector<char> chunk(std::min(kChunk, total));
  for (size_t done = 0; done < total; done += kChunk) {
    const size_t length = std::min(kChunk, total - done);
    if (!float_file_->ReadInto(begin + done, length, chunk.data())) {
      return Status::IOError("vector index: reading the float vectors of its file failed");
    }
    NS_RETURN_IF_ERROR(w.Append(std::string_view(chunk.data(), length)));
  }
  return Status::OK();
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::Open(Env& env, const std::string& path,
                                                   const HnswOpenOptions& open_options) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, env.MapReadOnly(path));
  const uint8_t* p = file->data();
  const size_t size = file->size();
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("vector index '" + path + "': " + what);
  };
  if (size < kHeaderSize) {
    return corrupt("truncated: " + std::to_string(size) + " bytes, the header alone needs " +
                   std::to_string(kHeaderSize));
  }
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) {
    return corrupt("bad magic; not a NodeSpace HNSW index file");
  }
  const uint32_t version = GetU32(p + 8);
  if (version != kFormatVersion) {
    return corrupt("unsupported format version " + std::to_string(version) +
                   " (this build reads version " + std::to_string(kFormatVersion) + ")");
  }
  if (GetU32(p + 12) != kHeaderSize) return corrupt("unexpected header size");
  if (Crc32c(p, kHeaderCrcOffset) != GetU32(p + kHeaderCrcOffset)) {
    return corrupt("header checksum mismatch");
  }

  HnswOptions options;
  options.dim = GetU32(p + 16);
  const uint32_t metric = GetU32(p + 20);
  if (metric > static_cast<uint32_t>(Metric::kL2))
    return corrupt("unknown metric " + std::to_string(metric));
  options.metric = static_cast<Metric>(metric);
  options.m = GetU32(p + 24);
  options.ef_construction = GetU32(p + 32);
  options.ef_search = GetU32(p + 36);
  const uint32_t flags = GetU32(p + 40);
  options.int8 = (flags & kFlagInt8) != 0;
  options.int8_train_size = GetU32(p + 44);
  options.rescore_factor = GetU32(p + 48);
  options.seed = GetU64(p + 88);
  std::unique_ptr<HnswIndex> index(new HnswIndex(options));
  if (Status st = index->CheckOptions(); !st.ok())
    return corrupt("bad parameters: " + st.message());
  if (GetU32(p + 28) != index->m0_) return corrupt("level-0 link count does not match m");
  index->slot_count_ = GetU32(p + 52);
  index->live_count_ = GetU32(p + 56);
  index->entry_point_ = GetU32(p + 60);
  index->max_level_ = static_cast<int32_t>(GetU32(p + 64));
  index->upper_links_size_ = GetU32(p + 68);
  index->applied_seq_ = GetU64(p + 72);
  index->rng_state_ = GetU64(p + 80);
  if (GetU32(p + 96) != kSectionCount) return corrupt("unexpected section count");
  const size_t n = index->slot_count_;
  if (index->live_count_ > n) return corrupt("more live vectors than slots");
  if (n == 0 ? index->entry_point_ != kNoSlot || index->max_level_ != -1
             : index->entry_point_ >= n || index->max_level_ < 0 || index->max_level_ > kMaxLevel) {
    return corrupt("entry point or top level out of range");
  }
  const bool trained = (flags & kFlagQuantizerTrained) != 0;
  const size_t dim = options.dim;
  const size_t expected[kSectionCount] = {
      n * dim * sizeof(float),
      n * (index->m0_ + 1) * sizeof(uint32_t),
      n * sizeof(int64_t),
      n,
      n,
      n * sizeof(uint32_t),
      index->upper_links_size_ * sizeof(uint32_t),
      size_t{index->live_count_} * sizeof(MappedLabelEntry),
      trained ? 2 * dim * sizeof(float) : 0,
      trained ? n * dim : 0,
      trained ? n * sizeof(float) : 0,
  };
  const uint8_t* data[kSectionCount];
  for (size_t i = 0; i < kSectionCount; ++i) {
    const uint8_t* e = p + kSectionTableOffset + i * kSectionEntrySize;
    const uint64_t off = GetU64(e);
    const uint64_t len = GetU64(e + 8);
    const std::string name = kSectionNames[i];
    if (len != expected[i]) {
      return corrupt("size mismatch: section '" + name + "' has " + std::to_string(len) +
                     " bytes, expected " + std::to_string(expected[i]));
    }
    if (off % kSectionAlign != 0 || off < kHeaderSize) {
      return corrupt("section '" + name + "' at a bad offset " + std::to_string(off));
    }
    if (off > size || len > size - off) {
      return corrupt("truncated: section '" + name + "' ends at byte " + std::to_string(off + len) +
                     " but the file has " + std::to_string(size));
    }
    data[i] = p + off;
    index->mapped_sections_.push_back({p + off, len, GetU32(e + 16)});
  }
  if (trained) {
    NS_ASSIGN_OR_RETURN(
        index->quantizer_,
        Int8Quantizer::FromParams(
            std::span<const float>(reinterpret_cast<const float*>(data[kSecQuantParams]), 2 * dim),
            dim));
  }
  index->vectors_ = reinterpret_cast<const float*>(data[kSecVectors]);
  index->links0_ = reinterpret_cast<const uint32_t*>(data[kSecLinks0]);
  index->labels_ = reinterpret_cast<const int64_t*>(data[kSecLabels]);
  index->levels_ = data[kSecLevels];
  index->flags_ = data[kSecFlags];
  index->upper_offsets_ = reinterpret_cast<const uint32_t*>(data[kSecUpperOffsets]);
  index->upper_links_ = reinterpret_cast<const uint32_t*>(data[kSecUpperLinks]);
  index->mapped_label_index_ = reinterpret_cast<const MappedLabelEntry*>(data[kSecLabelIndex]);
  index->mapped_label_count_ = index->live_count_;
  if (trained) {
    index->codes_ = data[kSecCodes];
    index->code_norms_ = reinterpret_cast<const float*>(data[kSecCodeNorms]);
  }
  index->mapping_ = std::move(file);
  if (open_options.verify_checksums) NS_RETURN_IF_ERROR(index->Verify());
  return index;
}

Status HnswIndex::Verify() const {
  for (size_t i = 0; i < mapped_sections_.size(); ++i) {
    const SectionRef& s = mapped_sections_[i];
    uint32_t crc = s.length ? Crc32c(s.data, s.length) : 0;
    if (crc != s.crc) {
      return Status::Corruption(std::string("vector index: checksum mismatch in section '") +
                                kSectionNames[i] + "'");
    }
  }
  return Status::OK();
}

}  // namespace nodespace::vector
