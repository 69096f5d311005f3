# Fails when LIBRARY (libtl.so, which holds the frontend and the runtime) names an MLIR or LLVM
# library among the shared libraries it needs: they are loaded only by libtl_compiler.so, on
# the first compiled trace. Run by ctest: cmake -DLIBRARY=<libtl.so> -P <this file>
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
endforeach()
message(STATUS "${LIBRARY} needs ${count} shared libraries, none of them MLIR or LLVM")
