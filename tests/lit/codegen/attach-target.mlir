// ninc-attach-target: the Target description on the module, as later passes
// read it.
// RUN: ninc-opt %s --ninc-attach-target=cpu=znver3 | FileCheck %s --check-prefix=ZEN3
// RUN: ninc-opt %s --ninc-attach-target=cpu=skylake-avx512 | FileCheck %s --check-prefix=SKX
// RUN: ninc-opt %s "--ninc-attach-target=target=cuda gpu-arch=sm_80" | FileCheck %s --check-prefix=SM80
// RUN: not ninc-opt %s --ninc-attach-target=cpu=nonsense 2>&1 | FileCheck %s --check-prefix=BAD

// ZEN3: nin.target = {
// ZEN3-SAME: cpu = "znver3"
// ZEN3-SAME: features = [{{.*}}"avx2"{{.*}}"fma"
// ZEN3-SAME: kind = "cpu"
// ZEN3-SAME: vector_bytes = 32
// ZEN3-SAME: vector_registers = 16

// SKX: cpu = "skylake-avx512"
// SKX-SAME: "avx512f"
// SKX-SAME: vector_bytes = 64
// SKX-SAME: vector_registers = 32

// SM80: gpu_arch = "sm_80"
// SM80-SAME: kind = "cuda"
// SM80-SAME: sm_version = 80
// SM80-SAME: tensor_cores = ["bf16", "f16", "tf32"]

// BAD: error: ninc: error: --cpu: 'nonsense' is not a CPU LLVM knows
module {
}
