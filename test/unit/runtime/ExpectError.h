//===- ExpectError.h - status + message expectations for runtime tests ----===//
#ifndef KILN_TEST_UNIT_RUNTIME_EXPECTERROR_H
#define KILN_TEST_UNIT_RUNTIME_EXPECTERROR_H

#include "runtime/kiln_runtime.h"
#include <gtest/gtest.h>
#include <string>

/// Expects `expr` to return `code` and kiln_last_error() to contain every
/// substring given after it.
#define EXPECT_ERROR(expr, code, ...)                                                              \
  do {                                                                                             \
    kiln_status status_ = (expr);                                                                  \
    std::string message_ = kiln_last_error();                                                      \
    EXPECT_EQ(status_, code) << kiln_status_name(status_) << ": " << message_;                     \
    for (const char *sub_ : {__VA_ARGS__})                                                         \
      EXPECT_NE(message_.find(sub_), std::string::npos)                                            \
          << "message \"" << message_ << "\" lacks \"" << sub_ << "\"";                            \
  } while (0)

#endif
