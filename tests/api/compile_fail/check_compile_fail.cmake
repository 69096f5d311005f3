# Compiles SOURCE (one snippet of tests/api/compile_fail/) and passes only when the compiler
# refuses it with a message matching the snippet's first line, `// expect: REGEX`.
# Run by ctest: cmake -DCXX=<compiler> -DSOURCE=<file> -DINCLUDES=<dir;dir> -P <this file>
file(STRINGS "${SOURCE}" first LIMIT_COUNT 1)
if(NOT first MATCHES "^// expect: (.+)$")
  message(FATAL_ERROR "${SOURCE}: the first line must be `// expect: REGEX`")
endif()
set(expect "${CMAKE_MATCH_1}")
set(include_flags)
string(REPLACE "|" ";" INCLUDES "${INCLUDES}")
foreach(dir IN LISTS INCLUDES)
  list(APPEND include_flags "-I${dir}")
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${CXX} -std=c++20 -fsyntax-only ${include_flags} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
if(NOT "${out}${err}" MATCHES "${expect}")
  message(FATAL_ERROR "${SOURCE} failed to compile, but without a message matching '${expect}':\n${out}${err}")
endif()
message(STATUS "${SOURCE}: refused as expected ('${expect}')")
