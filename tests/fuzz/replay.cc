// Runs a fuzz target (LLVMFuzzerTestOneInput) once over each file named on
// the command line, or in each folder named: the seeds and the inputs that
// once crashed a target (regressions/<target>/), as a regression test in
// every build, under that build's sanitizers. A crash, a sanitizer report or
// an abort fails it; so does finding no input at all (a wrong path).
//
// Usage: fuzz_<target> FILE-OR-FOLDER...
//
// The coverage-guided fuzzing itself is libFuzzer's (SITELEDGER_FUZZ=ON with
// clang-19): the same target links libFuzzer's main instead of this one.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::directory_iterator(arg)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else if (fs::is_regular_file(arg)) {
      inputs.push_back(arg);
    } else if (!fs::exists(arg)) {
      std::fprintf(stderr, "no such file or folder: %s\n", argv[i]);
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs found\n");
    return 2;
  }
  size_t accepted = 0;
  for (const fs::path& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 2;
    }
    // Targets answer 1 for an input their format accepts.
    accepted +=
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                               bytes.size()) == 1;
  }
  std::printf("replayed %zu inputs (%zu accepted by the target), no failure\n",
              inputs.size(), accepted);
  return 0;
}
