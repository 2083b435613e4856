# -*- Python -*-
# lit configuration for Kiln's lit + FileCheck tests.
#
#   cd build && ninja && ctest -R lit --output-on-failure       # via CTest (builds first!)
#   python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv test --param build_dir=$PWD/build
#
# Parameters:
#   build_dir  CMake build tree (default: <repo>/build); tools are in <build_dir>/bin.
#   tools_dir  optional extra directory searched before those two (e.g. an
#              install prefix's bin/).
#
# lit does not build anything: run `ninja` first, or the tests run stale tools.

import os

import lit.formats
import lit.llvm

config.name = "kiln"
# .mlir: kiln-opt tests (test/ir, ...). .kiln: model-language tests for kilnc.
config.suffixes = [".mlir", ".kiln"]
config.test_source_root = os.path.dirname(__file__)
# Not lit tests: GoogleTest sources and libFuzzer targets/corpora, and input
# files that other tests read. lit matches these names against the basename of
# every directory and file it walks, at any depth.
config.excludes = ["unit", "fuzz", "Inputs"]

repo_root = os.path.dirname(config.test_source_root)
build_dir = os.path.abspath(
    lit_config.params.get("build_dir", os.path.join(repo_root, "build"))
)
if not os.path.isdir(build_dir):
    lit_config.fatal(
        "build_dir '%s' does not exist; configure and build first, then pass "
        "--param build_dir=<cmake build tree>" % build_dir
    )

tool_dirs = [os.path.join(build_dir, "bin")]
if "tools_dir" in lit_config.params:
    tool_dirs.insert(0, os.path.abspath(lit_config.params["tools_dir"]))

# Output/ of each test goes into the build tree, never into the sources.
config.test_exec_root = os.path.join(build_dir, "test", "lit-out")
config.llvm_tools_dir = "/usr/lib/llvm-19/bin"

lit.llvm.initialize(lit_config, config)
from lit.llvm import llvm_config  # noqa: E402  (None before initialize)
from lit.llvm.subst import ToolSubst  # noqa: E402

config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)

# FileCheck, `| not`, `| count` from /usr/lib/llvm-19/bin (fatal if missing).
llvm_config.use_default_substitutions()
# `not` also at the start of a RUN line (`not kiln-opt ...`) and split-file.
llvm_config.add_tool_substitutions(
    [ToolSubst("not", unresolved="fatal"), ToolSubst("split-file", unresolved="fatal")],
    [config.llvm_tools_dir],
)

# kiln-opt is required. kilnc is built only once the frontend is: when it is
# missing there is no substitution, and the `kilnc` feature is not set, so
# .kiln tests can say `REQUIRES: kilnc` (without it they fail with
# "kilnc: command not found", which is intended).
llvm_config.add_tool_substitutions([ToolSubst("kiln-opt", unresolved="fatal")], tool_dirs)
if any(os.access(os.path.join(d, "kilnc"), os.X_OK) for d in tool_dirs):
    llvm_config.add_tool_substitutions(["kilnc"], tool_dirs)
    config.available_features.add("kilnc")
else:
    lit_config.note("kilnc not found in %s: .kiln tests need it" % os.pathsep.join(tool_dirs))

# Commands that the substitutions do not cover (e.g. inside `sh -c`) still find
# the tools through PATH.
llvm_config.with_environment("PATH", tool_dirs + [config.llvm_tools_dir], append_path=True)
