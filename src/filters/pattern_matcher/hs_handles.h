// RAII owners for Hyperscan's C handles, private to the pattern matcher, so that no path (an error
// return half-way through compile, a stream dropped mid-response) can leak them.
#pragma once

#include <hs/hs.h>

#include <cstdlib>
#include <memory>
#include <string_view>

namespace aiw::hs_handles {

struct DatabaseDeleter {
  void operator()(hs_database_t* db) const noexcept { hs_free_database(db); }
};
struct CompileErrorDeleter {
  void operator()(hs_compile_error_t* e) const noexcept { hs_free_compile_error(e); }
};
struct ExprInfoDeleter {
  // hs_expression_info allocates with the misc allocator, which defaults to malloc.
  void operator()(hs_expr_info_t* info) const noexcept { std::free(info); }
};

using DatabasePtr = std::unique_ptr<hs_database_t, DatabaseDeleter>;
using CompileErrorPtr = std::unique_ptr<hs_compile_error_t, CompileErrorDeleter>;
using ExprInfoPtr = std::unique_ptr<hs_expr_info_t, ExprInfoDeleter>;

// A name for a Hyperscan return code, for error messages.
inline std::string_view errorName(hs_error_t rc) {
  switch (rc) {
    case HS_SUCCESS:
      return "success";
    case HS_INVALID:
      return "invalid parameter";
    case HS_NOMEM:
      return "out of memory";
    case HS_SCAN_TERMINATED:
      return "scan terminated";
    case HS_COMPILER_ERROR:
      return "compiler error";
    case HS_DB_VERSION_ERROR:
      return "database built by another Hyperscan version";
    case HS_DB_PLATFORM_ERROR:
      return "database built for another platform";
    case HS_DB_MODE_ERROR:
      return "database built for another mode";
    case HS_BAD_ALIGN:
      return "bad alignment";
    case HS_BAD_ALLOC:
      return "misaligned allocation";
    case HS_SCRATCH_IN_USE:
      return "scratch space in use";
    case HS_ARCH_ERROR:
      return "CPU not supported";
    case HS_INSUFFICIENT_SPACE:
      return "insufficient space";
    default:
      return "unknown error";
  }
}

}  // namespace aiw::hs_handles
