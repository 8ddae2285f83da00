# Install rules and a CMake package so that another project can find_package(diffnorm).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS diffnorm_static diffnorm_shared EXPORT diffnormTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS diffnorm_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/diffnorm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES data/clip_vocab/vocab.json data/clip_vocab/merges.txt
  DESTINATION ${CMAKE_INSTALL_DATADIR}/diffnorm/clip_vocab OPTIONAL)
install(EXPORT diffnormTargets NAMESPACE diffnorm::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/diffnorm)

configure_package_config_file(cmake/diffnormConfig.cmake.in
  ${PROJECT_BINARY_DIR}/diffnormConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/diffnorm)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/diffnormConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/diffnormConfig.cmake
              ${PROJECT_BINARY_DIR}/diffnormConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/diffnorm)
