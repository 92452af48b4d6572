//===- compiler/importer/Importer.cpp - Model -> nin dialect --------------===//

#include "compiler/importer/Importer.h"
#include "compiler/dialect/StageContract.h"
#include "compiler/dialect/NinOps.h"
#include "compiler/model/Shapes.h"
#include "runtime/support/Random.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace ninc {

namespace {

class Importer {
public:
  Importer(MLIRContext &ctx, const Model &model, const ImportOptions &opts)
      : ctx_(ctx), model_(model), opts_(opts), b_(&ctx) {}

  OwningOpRef<ModuleOp> run() {
    Location fileLoc = FileLineColLoc::get(&ctx_, model_.sourcePath, 0, 0);
    OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc, StringRef(model_.name));
    b_.setInsertionPointToEnd(module->getBody());

    // Arguments: the input batch, then every parameter.
    std::vector<ParamInfo> params = parameterList(model_);
    SmallVector<Type> argTypes{tensorType(inputShape(model_, opts_.batch))};
    for (const ParamInfo &p : params)
      argTypes.push_back(tensorType(p.shape));
    Type resultType = UnrankedTensorType::get(b_.getF32Type());
    auto func = b_.create<func::FuncOp>(fileLoc, inferFunctionName(model_.name),
                                        b_.getFunctionType(argTypes, resultType));
    func.setArgAttr(0, attr::kInput, b_.getUnitAttr());
    for (size_t i = 0; i < params.size(); ++i)
      func.setArgAttr(i + 1, attr::kParam, b_.getStringAttr(params[i].name));
    Block *entry = func.addEntryBlock();
    b_.setInsertionPointToStart(entry);

    // Map each conv layer to its weight (and bias) argument.
    std::vector<int> firstParam(model_.layers.size(), -1);
    for (size_t i = 0; i < params.size(); ++i)
      if (!params[i].isBias)
        firstParam[params[i].layer] = static_cast<int>(i) + 1;

    Value x = entry->getArgument(0);
    for (size_t i = 0; i < model_.layers.size(); ++i)
      x = layer(model_.layers[i], static_cast<int64_t>(i), x, entry, firstParam[i]);
    b_.create<func::ReturnOp>(x.getLoc(), x);
    return module;
  }

private:
  Type tensorType(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b_.getF32Type());
  }
  Type unranked() { return UnrankedTensorType::get(b_.getF32Type()); }

  Value layer(const Layer &l, int64_t index, Value x, Block *entry, int param) {
    Location loc = NameLoc::get(b_.getStringAttr(l.name));
    switch (l.kind) {
    case OpKind::Conv2D: {
      const Conv2DAttrs &c = l.conv;
      Value bias = c.bias ? entry->getArgument(param + 1) : Value();
      Value y = b_.create<nin::Conv2DOp>(loc, unranked(), x, entry->getArgument(param), bias,
                                         b_.getDenseI64ArrayAttr({c.stride.h, c.stride.w}),
                                         b_.getDenseI64ArrayAttr({c.padding.h, c.padding.w}),
                                         /*relu=*/nullptr);
      // Activation as its own op: `nin-fuse-conv-relu` folds it back.
      return c.relu ? b_.create<nin::ReluOp>(loc, unranked(), y).getResult() : y;
    }
    case OpKind::ReLU: return b_.create<nin::ReluOp>(loc, unranked(), x);
    case OpKind::MaxPool2D:
      return b_.create<nin::MaxPool2DOp>(loc, unranked(), x, hw(l.pool.kernel),
                                         hw(l.pool.stride), hw(l.pool.padding));
    case OpKind::AvgPool2D:
      return b_.create<nin::AvgPool2DOp>(loc, unranked(), x, hw(l.pool.kernel),
                                         hw(l.pool.stride), hw(l.pool.padding));
    case OpKind::GlobalAvgPool: return b_.create<nin::GlobalAvgPoolOp>(loc, unranked(), x);
    case OpKind::Dropout: {
      auto d = b_.create<nin::DropoutOp>(loc, unranked(), x, b_.getF32FloatAttr(l.dropoutRate),
                                         opts_.training ? b_.getUnitAttr() : nullptr);
      // The interpreter's mask stream: kStreamDropout + the layer's index.
      d->setAttr(attr::kStream, b_.getI64IntegerAttr(int64_t(kStreamDropout) + index));
      return d;
    }
    case OpKind::Flatten: return b_.create<nin::FlattenOp>(loc, unranked(), x);
    }
    return x;
  }

  DenseI64ArrayAttr hw(HW v) { return b_.getDenseI64ArrayAttr({v.h, v.w}); }

  MLIRContext &ctx_;
  const Model &model_;
  const ImportOptions &opts_;
  OpBuilder b_;
};

} // namespace

OwningOpRef<ModuleOp> importModel(MLIRContext &ctx, const Model &model,
                                  const ImportOptions &options) {
  return Importer(ctx, model, options).run();
}

} // namespace ninc
