#include "server/gzip.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace nodespace::server {
namespace {

std::string Gunzip(const std::string& packed) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

TEST(Gzip, RoundTripsAndShrinksText) {
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "{\"id\":\"n" + std::to_string(i) + "\",\"content\":\"x\"},";
  for (int level : {1, 6, 9}) {
    auto packed = Gzip(text, level);
    ASSERT_TRUE(packed.has_value());
    EXPECT_LT(packed->size(), text.size() / 4);
    EXPECT_EQ(Gunzip(*packed), text);
  }
  EXPECT_EQ(Gunzip(Gzip("").value()), "");
}

TEST(Gzip, ReadsAcceptEncoding) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br, zstd"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.8"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip("br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip; q=0.000, br"));
  EXPECT_FALSE(AcceptsGzip("xgzip"));
  EXPECT_FALSE(AcceptsGzip(""));
}

TEST(Gzip, CompressesTextButNotStreamsOrBinaries) {
  EXPECT_TRUE(IsCompressibleType("application/json"));
  EXPECT_TRUE(IsCompressibleType("text/html; charset=utf-8"));
  EXPECT_TRUE(IsCompressibleType("text/javascript; charset=utf-8"));
  EXPECT_FALSE(IsCompressibleType("text/event-stream"));
  EXPECT_FALSE(IsCompressibleType("image/png"));
  EXPECT_FALSE(IsCompressibleType(""));
}

}  // namespace
}  // namespace nodespace::server
