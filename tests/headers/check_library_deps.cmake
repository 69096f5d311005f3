# Fails when LIBRARY (libtl.so, libtl_runtime.so, an executable) names an MLIR or LLVM library
# among the shared libraries it needs: they are loaded only by libtl_compiler.so, on the first
# compiled trace. With -DRUNTIME_ONLY=ON it also fails when LIBRARY needs libtl.so (the
# frontend): the runtime and what tlc emits run artifacts without it.
# Run by ctest: cmake -DLIBRARY=<file> [-DRUNTIME_ONLY=ON] -P <this file>
if(NOT EXISTS "${LIBRARY}")
  message(FATAL_ERROR "check_library_deps: LIBRARY '${LIBRARY}' does not exist")
endif()
execute_process(COMMAND readelf -d "${LIBRARY}" OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_library_deps: readelf -d ${LIBRARY} failed (${rc})")
endif()
string(REGEX MATCHALL "Shared library: \\[[^]]+\\]" needed "${dynamic}")
list(LENGTH needed count)
if(count EQUAL 0)
  message(FATAL_ERROR "check_library_deps: found no NEEDED entries in ${LIBRARY}; is it a shared library?")
endif()
foreach(entry IN LISTS needed)
  if(entry MATCHES "lib(MLIR|LLVM|clang)")
    message(FATAL_ERROR "${LIBRARY} links ${entry}: the frontend and runtime must not load MLIR or LLVM "
                        "(STYLE.md section 1); only libtl_compiler.so may")
  endif()
  if(RUNTIME_ONLY AND entry MATCHES "\\[libtl\\.so")
    message(FATAL_ERROR "${LIBRARY} links ${entry}, the frontend: it must run with libtl_runtime.so alone")
  endif()
endforeach()
string(REPLACE ";" "\n  " listed "${needed}")
message(STATUS "${LIBRARY} needs ${count} shared libraries, none of them MLIR or LLVM:\n  ${listed}")
