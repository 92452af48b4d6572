# lit configuration for ninc: tests/lit (command-line and, later, IR tests)
# and tests/bad-models (every malformed model must exit 1 with a named error).
import os

import lit.formats

config.name = "ninc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".test", ".pbtxt", ".mlir"]
config.excludes = ["unit", "integration", "CMakeLists.txt", "lit.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ninc_binary_dir, "tests")

config.environment["PATH"] = os.pathsep.join(
    [config.ninc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
config.environment["NINC_DATA_DIR"] = config.ninc_data_dir

config.substitutions.append(("%models", os.path.join(config.ninc_source_dir, "models")))
config.substitutions.append(("%data", config.ninc_data_dir))
config.substitutions.append(
    ("%expect-exit", os.path.join(config.ninc_source_dir, "tests", "lit", "expect-exit.sh")))

# The CUDA target: ptxas assembles its kernels (the CUDA toolkit); whether a
# driver is present decides what a compiled CUDA program does here.
import ctypes
import shutil

config.substitutions.append(
    ("%check-ptxas", os.path.join(config.ninc_source_dir, "tests", "lit", "ptxas-limits.sh")))
ptxas = os.path.join(os.environ.get("NINC_CUDA_TOOLKIT", "/usr/local/cuda"), "bin", "ptxas")
if os.access(ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
try:
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass
# A sanitizer build (scripts/sanitize.sh): ASan reserves terabytes of shadow
# address space, so what runs under `ulimit -v` cannot be tested there.
if "address" in getattr(config, "ninc_sanitize", ""):
    config.available_features.add("asan")
config.substitutions.append(("%fake-cuda", os.path.join(config.ninc_binary_dir, "tests", "fake-cuda")))
