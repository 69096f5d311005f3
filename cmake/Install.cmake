# `cmake --install build --prefix P`: the public headers, libtl, libtl_runtime and
# libtl_compiler (loaded by libtl from its own folder), libtl_onnx, the tools, a CMake package
# (find_package(Tracelight): tl::tl, tl::runtime, tl::onnx) and pkg-config files. docs/getting_started.md
# shows a project using it; tests/install builds one against a fresh install.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS tl tl_runtime tl_onnx EXPORT TracelightTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS tl_compiler LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS tlc tl-model-runner tl-onnx-import tl-runs tl-opt tl-op-docs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/ ${PROJECT_SOURCE_DIR}/frontend/include/
  ${PROJECT_SOURCE_DIR}/onnx/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

install(EXPORT TracelightTargets NAMESPACE tl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tracelight)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/TracelightConfig.cmake.in
  ${PROJECT_BINARY_DIR}/TracelightConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tracelight)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/TracelightConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/TracelightConfig.cmake ${PROJECT_BINARY_DIR}/TracelightConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tracelight)
foreach(pc tracelight tracelight-runtime)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# `cpack -G DEB` (in the build folder): a Debian package of the install above, prefix /usr.
# Its dependencies are computed by dpkg-shlibdeps from the libraries the installed binaries
# link (oneDNN, LLVM/MLIR 15, protobuf-lite, spdlog, fmt, libgomp, ...), so they stay true when
# the link changes; the compiler toolchain tlc --emit lib uses is only recommended.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tracelight)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Tracelight developers <tracelight@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Tracelight (tl): a deep-learning framework and compiler for C++")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps must see tl's own libraries (in the package itself) and MLIR's, which LLVM 15
# keeps in its own folder (package libmlir-15).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/frontend ${PROJECT_BINARY_DIR}/runtime
    ${PROJECT_BINARY_DIR}/driver /usr/lib/llvm-15/lib)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "g++, cmake, pkg-config")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
include(CPack)
