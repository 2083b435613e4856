//===- make_test_kbins.cpp - Write the test model as .kbin files ----------===//
//
// kiln-make-test-kbins <shared object> <out dir>
//   <out dir>/affine.kbin         the test model around the given shared object
//   <out dir>/seed-*.kbin         small variants around a header-only ELF stub,
//                                 valid for KILN_LOAD_NO_CODE (fuzz seeds)
//
//===----------------------------------------------------------------------===//

#include "test/unit/runtime/KbinTestBuilder.h"

using namespace kiln::test;

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: kiln-make-test-kbins <shared object> <out dir>\n");
    return 2;
  }
  std::vector<uint8_t> so = readFileBytes(argv[1]);
  if (so.empty()) {
    std::fprintf(stderr, "kiln-make-test-kbins: cannot read %s\n", argv[1]);
    return 1;
  }
  std::string dir = argv[2];
  bool ok = writeFileBytes(dir + "/affine.kbin", buildKbin(testModelSpec(so)));

  // Seeds: small, and between them every kind of field.
  KbinSpec full = testModelSpec(fakeSharedObject());
  full.features = {"sse2", "avx2", "fma"};
  ok &= writeFileBytes(dir + "/seed-full.kbin", buildKbin(full));

  KbinSpec one = full;
  one.entries.resize(1);
  one.params.resize(1);
  one.features.clear();
  ok &= writeFileBytes(dir + "/seed-one-entry.kbin", buildKbin(one));

  KbinSpec paramsOnly;
  paramsOnly.name = "weights";
  paramsOnly.hasCpu = false;
  paramsOnly.params.push_back({"dense/kernel", 0, {2, 3}, true, bytesOf(std::vector<float>{1, 2, 3, 4, 5, 6})});
  paramsOnly.params.push_back({"dense/bias", 0, {3}, true, bytesOf(std::vector<float>{0, 0, 0})});
  paramsOnly.params.push_back({"step", 1, {}, false, bytesOf(std::vector<int32_t>{7})});
  ok &= writeFileBytes(dir + "/seed-params-only.kbin", buildKbin(paramsOnly));

  KbinSpec wide = full;
  wide.entries[0].inputs = {{"images", 0, {2, 4, 4, 3}}, {"labels", 1, {2}}};
  wide.entries[0].outputs = {{"loss", 0, {}}, {"accuracy", 0, {}}, {"probs", 0, {2, 10}}};
  wide.entries[0].scratchBytes = 4096;
  ok &= writeFileBytes(dir + "/seed-wide.kbin", buildKbin(wide));

  // GPU sections (kbin gpu / gpu_entry_points): the affine model with GPU
  // code for predict (kiln-run crosscheck's no-device test), and a seed.
  KbinSpec gpu = testModelSpec(so);
  addTestGpuCode(gpu);
  ok &= writeFileBytes(dir + "/affine-gpu.kbin", buildKbin(gpu));
  KbinSpec gpuSeed = full;
  addTestGpuCode(gpuSeed);
  ok &= writeFileBytes(dir + "/seed-gpu.kbin", buildKbin(gpuSeed));
  // (No CUDA-only seed yet: test/fuzz/fuzz_kbin.cpp still requires a
  // non-empty cpu_symbol of every entry point, which such models lack.)

  if (!ok) {
    std::fprintf(stderr, "kiln-make-test-kbins: cannot write into %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
