//===- NinDialect.td - The nin dialect ---------------------*- tablegen -*-===//
//
// The graph IR of ninc: one op per layer of the model spec, plus the fused
// ops the graph passes create. Tensors are fp32 and logically NCHW (the
// spec's layout); layouts for a target are chosen when lowering.
//
//===----------------------------------------------------------------------===//
#ifndef NIN_DIALECT_TD
#define NIN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Nin_Dialect : Dialect {
  let name = "nin";
  let summary = "Network-in-Network graph IR";
  let description = [{
    Layers of a NiN model as tensor ops with static shapes: convolutions with
    optional bias and fused ReLU, pooling, global average pooling, dropout,
    flatten, and the fused per-pixel MLP of a NiN block's 1x1 convolutions.
    Layer names of the spec are carried as `loc("name")` locations.
  }];
  let cppNamespace = "::ninc::nin";
  let useDefaultAttributePrinterParser = 0;
  let useDefaultTypePrinterParser = 0;
}

class Nin_Op<string mnemonic, list<Trait> traits = []> :
    Op<Nin_Dialect, mnemonic, traits>;

#endif // NIN_DIALECT_TD
