# LOWBIT_CUDA=EMULATED: the CUDA backend compiled by g++ and run on the CPU by the SIMT
# emulation harness (test/emu/simt, ../shared/design/cuda-verification.md section 3).
#
# The very sources nvcc builds for the GPU (cuda/launch/*.cu and the kernels they include) are
# compiled as C++ with the harness shim force-included; the host API (cudaMalloc, cudaMemcpy,
# launches, streams run synchronously) and lowbit/cuda_api.h come from test/emu/simt. CUDA's own
# headers (cuda_runtime.h, cuda_fp16.h, cuda_bf16.h) are used for declarations and half types;
# no cudart is linked. Included by cmake/cuda.cmake; defines LOWBIT_CUDA_TARGET and
# LOWBIT_CUDA_FLAVOR.
set(LOWBIT_EMU_ARCH "800" CACHE STRING "SIMT_ARCH code path of the emulated flavour (750 or 800)")
find_path(LOWBIT_CUDA_INCLUDE_DIR cuda_fp16.h
  HINTS $ENV{CUDA_HOME}/include $ENV{CUDA_PATH}/include /usr/local/cuda/include
  DOC "CUDA headers (cuda_runtime.h, cuda_fp16.h) for the emulated flavour")
if(NOT LOWBIT_CUDA_INCLUDE_DIR)
  message(FATAL_ERROR "LOWBIT_CUDA=EMULATED needs CUDA's headers (cuda_fp16.h); set CUDA_HOME")
endif()

file(GLOB LOWBIT_EMU_CU_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cuda/launch/*.cu)
set(LOWBIT_EMU_RUNTIME_SOURCES
  ${CMAKE_SOURCE_DIR}/test/emu/simt/simt_runtime.cc
  ${CMAKE_SOURCE_DIR}/test/emu/simt/host_api.cc
  ${CMAKE_SOURCE_DIR}/test/emu/simt/device_emulated.cc)
# g++ would take a .cu file for linker input: compile it as C++ explicitly.
set_source_files_properties(${LOWBIT_EMU_CU_SOURCES} PROPERTIES LANGUAGE CXX COMPILE_OPTIONS "-x;c++")

add_library(lowbit_cuda STATIC ${LOWBIT_EMU_CU_SOURCES} ${LOWBIT_EMU_RUNTIME_SOURCES})
target_include_directories(lowbit_cuda PUBLIC ${CMAKE_SOURCE_DIR}/native/include)
target_include_directories(lowbit_cuda PRIVATE ${CMAKE_SOURCE_DIR}/cuda ${CMAKE_SOURCE_DIR}/test/emu)
target_include_directories(lowbit_cuda SYSTEM PRIVATE ${LOWBIT_CUDA_INCLUDE_DIR})
target_compile_definitions(lowbit_cuda PRIVATE SIMT_ARCH=${LOWBIT_EMU_ARCH})
target_compile_definitions(lowbit_cuda PUBLIC LOWBIT_HAVE_CUDA=1)
target_compile_options(lowbit_cuda PRIVATE -include simt/simt.h -O2 -Wall -Wextra -Wno-unused-parameter)
if(LOWBIT_SANITIZE)
  target_compile_options(lowbit_cuda PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
endif()
find_package(Threads REQUIRED)
target_link_libraries(lowbit_cuda PUBLIC Threads::Threads)

set(LOWBIT_CUDA_TARGET lowbit_cuda)
set(LOWBIT_CUDA_FLAVOR "emulated")
message(STATUS "lowbit: emulated CUDA flavour (SIMT_ARCH=${LOWBIT_EMU_ARCH}, headers in ${LOWBIT_CUDA_INCLUDE_DIR})")
