// ninc-plan-memory: two buffers whose lives do not overlap share the arena;
// a buffer live at the same time as another gets its own offset. The arena
// is a new last argument and its size a function and module attribute.
// RUN: ninc-opt %s --ninc-plan-memory | FileCheck %s
// RUN: ninc-opt %s --ninc-plan-memory=report=1 -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

// CHECK: module attributes {nin.arena_bytes = 512 : i64}
// CHECK-LABEL: func.func @f(
// CHECK-SAME: %{{.*}}: memref<64xf32>, %{{.*}}: memref<64xf32>, %[[ARENA:.*]]: memref<512xi8> {nin.arena})
// CHECK-SAME: attributes {nin.arena_bytes = 512 : i64}
// CHECK-NOT: memref.alloc
// CHECK: memref.view %[[ARENA]][%{{.*}}][] : memref<512xi8> to memref<64xf32>
// CHECK: memref.view %[[ARENA]][%{{.*}}][] : memref<512xi8> to memref<64xf32>
// CHECK: memref.view %[[ARENA]][%{{.*}}][] : memref<512xi8> to memref<64xf32>
// CHECK-NOT: memref.alloc
// CHECK: return
// REPORT: @f
func.func @f(%in: memref<64xf32>, %out: memref<64xf32>) {
  %a = memref.alloc() : memref<64xf32>
  memref.copy %in, %a : memref<64xf32> to memref<64xf32>
  %b = memref.alloc() : memref<64xf32>
  memref.copy %a, %b : memref<64xf32> to memref<64xf32>
  %c = memref.alloc() : memref<64xf32>
  memref.copy %b, %c : memref<64xf32> to memref<64xf32>
  memref.copy %c, %out : memref<64xf32> to memref<64xf32>
  return
}
