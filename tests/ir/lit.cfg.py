# lit configuration for the .mlir tests in this folder. Run through ctest (ir.lit), or by
# hand on a build folder: python3 /usr/lib/llvm-15/build/utils/lit/lit.py -v <build>/tests/ir
import os

import lit.formats

config.name = "tl-ir"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.tl_test_exec_root

# RUN lines name tools by their plain names: tl-opt from this build, FileCheck and not from
# LLVM 15.
path = [os.path.dirname(config.tl_opt), config.llvm_tools_dir, config.environment.get("PATH", "")]
config.environment["PATH"] = os.pathsep.join(path)
