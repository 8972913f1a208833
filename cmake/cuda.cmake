# Decides the CUDA flavor of the addon and defines LOWBIT_CUDA_TARGET (a static library
# linked into the .node, or empty) and LOWBIT_CUDA_FLAVOR (none | cuda | emulated).
#
#   none      no CUDA code; cuda.* ops report "built without CUDA" (native/cuda_stub/)
#   cuda      nvcc-compiled kernels for sm_75/80/86/89/90 + compute_90 PTX, cudart static
#   emulated  the same kernel sources compiled by g++ against the SIMT emulation harness
set(LOWBIT_CUDA_TARGET "")
set(LOWBIT_CUDA_FLAVOR "none")
set(LOWBIT_CUDA_ARCHS "75-real;80-real;86-real;89-real;90-real;90-virtual")

if(LOWBIT_CUDA STREQUAL "EMULATED")
  include(${CMAKE_SOURCE_DIR}/cmake/cuda-emulated.cmake OPTIONAL RESULT_VARIABLE LOWBIT_EMU_FOUND)
  if(NOT LOWBIT_EMU_FOUND)
    message(FATAL_ERROR "LOWBIT_CUDA=EMULATED but cmake/cuda-emulated.cmake is missing")
  endif()
elseif(NOT LOWBIT_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
      set(CMAKE_CUDA_ARCHITECTURES ${LOWBIT_CUDA_ARCHS})
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(CMAKE_CUDA_STANDARD 17)
    file(GLOB LOWBIT_CU_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/cuda/*.cu ${CMAKE_SOURCE_DIR}/cuda/launch/*.cu)
    add_library(lowbit_cuda STATIC ${LOWBIT_CU_SOURCES})
    target_include_directories(lowbit_cuda PUBLIC ${CMAKE_SOURCE_DIR}/native/include ${CMAKE_SOURCE_DIR}/cuda)
    # Spills and local memory are build errors: a kernel that spills is a kernel to fix.
    target_compile_options(lowbit_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=-warn-spills,-warn-lmem-usage,-Werror --expt-relaxed-constexpr>)
    # The fat binary (SASS for five archs + PTX) compressed for size: about 7x smaller than nvcc's
    # default, decompressed by the driver when the module loads. It asks nothing more of the driver
    # than the static CUDA 13 runtime already does (R580 or newer).
    target_compile_options(lowbit_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--compress-mode=size>)
    # Two of a unit's six targets (five SASS archs + PTX) compile at a time: the two largest units
    # (int8_gemm.cu, gemm_4bit_mma.cu) otherwise finish alone on one core, minutes after the rest
    # of the build. Two, not one per core, bounds the processes and memory of a wide parallel build.
    target_compile_options(lowbit_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--threads=2>)
    # LOWBIT_PTXAS_LOG=ON (or the environment variable of that name at the first configure; kept in
    # the cache so a later configure does not recompile): ptxas reports every kernel's registers,
    # shared memory, stack and spills into <build>/ptxas/<unit>.log (scripts/ptxas-log.sh), which
    # scripts/cuda-resources.sh --from-build checks instead of compiling the kernels again (CI).
    set(LOWBIT_PTXAS_LOG "$ENV{LOWBIT_PTXAS_LOG}" CACHE STRING "keep ptxas -v reports in <build>/ptxas (ON/OFF)")
    if(LOWBIT_PTXAS_LOG)
      target_compile_options(lowbit_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=-v>)
      set_target_properties(lowbit_cuda PROPERTIES CUDA_COMPILER_LAUNCHER
                            "${CMAKE_SOURCE_DIR}/scripts/ptxas-log.sh;${CMAKE_BINARY_DIR}/ptxas")
    endif()
    set_target_properties(lowbit_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Static POSITION_INDEPENDENT_CODE ON)
    target_link_libraries(lowbit_cuda PUBLIC CUDA::cudart_static)
    target_compile_definitions(lowbit_cuda PUBLIC LOWBIT_HAVE_CUDA=1)
    set(LOWBIT_CUDA_TARGET lowbit_cuda)
    set(LOWBIT_CUDA_FLAVOR "cuda")
  elseif(LOWBIT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "LOWBIT_CUDA=ON but no working nvcc was found (set CUDACXX or put nvcc on PATH)")
  else()
    message(STATUS "lowbit: nvcc not found, CPU-only build")
  endif()
endif()

if(LOWBIT_CUDA_FLAVOR STREQUAL "none")
  add_library(lowbit_cuda_stub STATIC ${CMAKE_SOURCE_DIR}/native/cuda_stub/cuda_stub.cc)
  target_include_directories(lowbit_cuda_stub PUBLIC ${CMAKE_SOURCE_DIR}/native/include)
  set(LOWBIT_CUDA_TARGET lowbit_cuda_stub)
endif()
