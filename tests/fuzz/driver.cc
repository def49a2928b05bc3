// A mutation fuzz driver for targets written against libFuzzer's interface
// (LLVMFuzzerTestOneInput). The compilers on a Debian 12 machine cannot
// build this C++23 code with libFuzzer (clang 14's library lacks
// std::expected), so this driver stands in: it starts from the target's
// seeds, mutates them (bit flips, byte sets, truncation, insertion,
// duplication, splicing, interesting values) and runs each input through the
// target, under AddressSanitizer and UndefinedBehaviorSanitizer, for a fixed
// time. It is not coverage-guided; it keeps inputs that the target reports
// as interesting (return value 1) as further seeds.
//
// Usage: fuzz_<target> [seconds] [rng seed]   (defaults: 30, random)

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Seeds: valid inputs of the target's format.
std::vector<std::string> FuzzSeeds();

namespace {

std::string Mutate(const std::string& in, const std::vector<std::string>& pool,
                   std::mt19937_64& rng) {
  std::string s = in;
  const int rounds = 1 + static_cast<int>(rng() % 8);
  for (int r = 0; r < rounds; ++r) {
    const size_t size = s.size();
    switch (rng() % 9) {
      case 0:  // flip a bit
        if (size) s[rng() % size] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:  // set a byte
        if (size) s[rng() % size] = static_cast<char>(rng());
        break;
      case 2:  // truncate
        if (size) s.resize(rng() % size);
        break;
      case 3: {  // insert random bytes
        std::string bytes(1 + rng() % 16, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        s.insert(size ? rng() % size : 0, bytes);
        break;
      }
      case 4: {  // duplicate a chunk
        if (!size) break;
        const size_t at = rng() % size;
        const size_t len = 1 + rng() % std::min<size_t>(64, size - at);
        s.insert(rng() % size, s.substr(at, len));
        break;
      }
      case 5: {  // splice with another seed
        const std::string& other = pool[rng() % pool.size()];
        if (other.empty()) break;
        const size_t cut = size ? rng() % size : 0;
        s = s.substr(0, cut) + other.substr(rng() % other.size());
        break;
      }
      case 6: {  // interesting values
        static const char* kValues[] = {
            "\x00", "\xff", "\x7f", "\x80", "\xff\xff\xff\xff", "0", "-1", "\"",
            "\\",   "{",    "[",    "\n"};
        const std::string v = kValues[rng() % 12];
        if (size) s.replace(rng() % size, std::min<size_t>(v.size(), size), v);
        break;
      }
      case 7:  // erase a chunk
        if (size) s.erase(rng() % size, 1 + rng() % 16);
        break;
      default:  // repeat a byte
        if (size) s.insert(rng() % size, 1 + rng() % 32, s[rng() % size]);
        break;
    }
    if (s.size() > (1 << 16)) s.resize(1 << 16);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 30;
  const uint64_t seed =
      argc > 2 ? std::strtoull(argv[2], nullptr, 10) : std::random_device()();
  std::mt19937_64 rng(seed);
  std::vector<std::string> pool = FuzzSeeds();
  pool.push_back("");
  for (const std::string& s : pool) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()),
                           s.size());
  }
  const auto end =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t runs = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 256; ++i, ++runs) {
      const std::string input = Mutate(pool[rng() % pool.size()], pool, rng);
      if (LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                                 input.size()) == 1 &&
          pool.size() < 4096) {
        pool.push_back(input);
      }
    }
  }
  std::printf("fuzz: %llu inputs in %.0f s (seed %llu), %zu kept, no failure\n",
              static_cast<unsigned long long>(runs), seconds,
              static_cast<unsigned long long>(seed), pool.size());
  return 0;
}
