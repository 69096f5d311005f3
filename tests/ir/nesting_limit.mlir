// tl-opt bounds the nesting depth of its input (256 levels of brackets and unary minus) before
// MLIR's recursive parser sees it: deeper input is refused with an error naming the file,
// line and column, where the parser would overflow the stack. The inputs are generated.

// 6,000 nested modules: refused at the 257th '{' (each "builtin.module {" is 16 columns).
// RUN: python3 -c "print('builtin.module {' * 6000 + '}' * 6000)" > %t.modules.mlir
// RUN: not tl-opt %t.modules.mlir 2>&1 | FileCheck %s --check-prefix=MODULES
// MODULES: modules.mlir:1:4112: error: IR nested deeper than 256 levels at '{'

// A 30,000-deep dense literal: refused at its 255th '[' (after the function's '{' and 'dense<').
// RUN: python3 -c "print('func.func @f() {\n  %%c = arith.constant dense<' + '[' * 30000 + '1.0' + ']' * 30000 + '> : tensor<1xf32>\n  return\n}')" > %t.dense.mlir
// RUN: not tl-opt %t.dense.mlir 2>&1 | FileCheck %s --check-prefix=DENSE
// DENSE: dense.mlir:2:283: error: IR nested deeper than 256 levels at '['

// A chain of 10,000 unary minus signs in an affine map (the affine parser recurses on each).
// RUN: python3 -c "print('#map = affine_map<(d0) -> (' + '-' * 10000 + 'd0)>')" > %t.minus.mlir
// RUN: not tl-opt %t.minus.mlir 2>&1 | FileCheck %s --check-prefix=MINUS
// MINUS: minus.mlir:1:28: error: IR nested deeper than 256 levels at '-'

// A chain of 100,000 additions in an affine map (the parser recurses once per operator).
// RUN: python3 -c "print('#map = affine_map<(d0) -> (' + ' + '.join(['d0'] * 100000) + ')>\nfunc.func private @f() attributes {m = #map}')" > %t.plus.mlir
// RUN: not tl-opt %t.plus.mlir 2>&1 | FileCheck %s --check-prefix=PLUS
// PLUS: plus.mlir:1:{{[0-9]+}}: error: IR nested deeper than 256 levels at '+'

// Exponents in dense literals are not operators: 1,000 of them parse.
// RUN: python3 -c "print('func.func @g() -> tensor<1000xf32> {\n  %%c = arith.constant dense<[' + ', '.join(['1.0e+00'] * 1000) + ']> : tensor<1000xf32>\n  return %%c : tensor<1000xf32>\n}')" | tl-opt | FileCheck %s --check-prefix=EXPONENTS
// EXPONENTS: arith.constant dense<1.000000e+00> : tensor<1000xf32>

// Input on stdin is named <stdin>.
// RUN: python3 -c "print('(' * 300)" | not tl-opt 2>&1 | FileCheck %s --check-prefix=STDIN
// STDIN: <stdin>:1:257: error: IR nested deeper than 256 levels

// 200 nested modules are within the limit and parse as before.
// RUN: python3 -c "print('builtin.module {' * 200 + '}' * 200)" | tl-opt | FileCheck %s --check-prefix=WITHIN
// WITHIN-COUNT-200: module {

// Brackets inside string literals and comments do not count.
// RUN: python3 -c "print('func.func private @f() attributes {note = \"' + '{[(<' * 1000 + '\"}\n// ' + '{' * 1000)" | tl-opt | FileCheck %s --check-prefix=QUOTED
// QUOTED: func.func private @f() attributes {note = "{[(<{[(<
