//===- compiler/driver/ModelWeights.h - Which weights a command uses -*- C++ -*-===//
#ifndef NINC_COMPILER_DRIVER_MODELWEIGHTS_H
#define NINC_COMPILER_DRIVER_MODELWEIGHTS_H

#include "compiler/reference/Interpreter.h"
#include "runtime/support/Error.h"

#include <string>
#include <utility>

namespace ninc {

/// The parameters to run `model` with, and a phrase saying where they came
/// from: those of the model file `weightsPath` (which must have weights of
/// exactly this model's names and shapes), else the model's own weights, else
/// Xavier initialisation from the spec's seed.
Expected<std::pair<reference::Params<float>, std::string>>
chooseWeights(const Model &model, const std::string &weightsPath);

} // namespace ninc

#endif // NINC_COMPILER_DRIVER_MODELWEIGHTS_H
