//===- CpuBackend.h - kiln graph -> native code for the host CPU ----------===//
//
//   lowerToLinalg      specialised graph -> linalg on tensors (ABI arguments)
//   lowerToLLVMDialect linalg -> bufferized loops -> LLVM dialect (+ packed entries)
//   translateToLLVMIR  LLVM dialect -> optimised llvm::Module for the target
//   emitCode           llvm::Module -> object file or assembly
//   compileToObjects   LLVM dialect -> object files, one per entry point, in parallel
//   linkSharedObject   object files -> ELF shared object (what a .kbin carries)
//
//===----------------------------------------------------------------------===//
#ifndef KILN_CODEGEN_CPU_CPUBACKEND_H
#define KILN_CODEGEN_CPU_CPUBACKEND_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"
#include <memory>
#include <string>
#include <vector>

namespace kiln::cpu {

/// Which CPU to generate code for: "native" (the host, with all its
/// features, e.g. AVX-512), or an LLVM CPU name such as "x86-64-v3" (AVX2)
/// or "x86-64" (SSE2 only) for a portable binary.
std::unique_ptr<llvm::TargetMachine> createTargetMachine(llvm::StringRef cpu, std::string &error);

/// CPU features, by __builtin_cpu_supports name, that code for `tm` may use.
std::vector<std::string> requiredFeatures(const llvm::TargetMachine &tm);

mlir::LogicalResult lowerToLinalg(mlir::ModuleOp module);
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module);
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &llvmContext,
                                                llvm::TargetMachine &tm);

enum class CodeKind { Object, Assembly };
/// Returns false and sets `error` on failure.
bool emitCode(llvm::Module &module, llvm::TargetMachine &tm, CodeKind kind, std::string &out,
              std::string &error);

/// translateToLLVMIR + emitCode for each entry point (with the functions it
/// calls) on its own thread: the same code, as several objects, in an order
/// that depends only on `module`. Returns false and sets `error` on failure.
bool compileToObjects(mlir::ModuleOp module, llvm::TargetMachine &tm,
                      std::vector<std::string> &objects, std::string &error);

/// Links object files into a shared object with the system's clang-19/lld.
bool linkSharedObject(llvm::ArrayRef<std::string> objects, std::string &sharedObject,
                      std::string &error);

/// Drops the module's parameter declarations and training configuration,
/// bufferizes it as both back ends do (outputs as arguments, kernel functions
/// inlined, parameters updated in place), then runs the pipeline fragment
/// `steps` ("pass,pass,..."): the CUDA back end shares this front half.
mlir::LogicalResult runAfterBufferizing(mlir::ModuleOp module, llvm::StringRef steps);

/// Registers the dialects and translations the CPU pipeline needs.
void registerCpuBackend(mlir::DialectRegistry &registry);

} // namespace kiln::cpu

#endif
