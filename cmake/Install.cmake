# `cmake --install build --prefix P`: the public headers, libtl, libtl_runtime and
# libtl_compiler (loaded by libtl from its own folder), the tools, a CMake package
# (find_package(Tracelight): tl::tl, tl::runtime) and pkg-config files. docs/getting_started.md
# shows a project using it; tests/install builds one against a fresh install.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS tl tl_runtime EXPORT TracelightTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS tl_compiler LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS tlc tl-model-runner tl-runs tl-opt tl-op-docs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/ ${PROJECT_SOURCE_DIR}/frontend/include/
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
