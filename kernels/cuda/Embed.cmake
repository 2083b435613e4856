# cmake -DIN=kiln_cuda_kernels.cuh -DOUT=KernelsSource.cpp -P Embed.cmake:
# kiln::cuda::kernelsSource() returning the header's text.
file(READ "${IN}" text)
string(LENGTH "${text}" length)
set(chunks "")
# Raw string literals of at most 8000 characters each (well under every
# compiler's limit), concatenated.
set(pos 0)
while(pos LESS length)
  string(SUBSTRING "${text}" ${pos} 8000 chunk)
  string(APPEND chunks "R\"kiln_cuda_src(${chunk})kiln_cuda_src\"\n")
  math(EXPR pos "${pos} + 8000")
endwhile()
file(WRITE "${OUT}.tmp" "// Generated from kiln_cuda_kernels.cuh by Embed.cmake. Do not edit.\n"
  "namespace kiln::cuda {\nconst char *kernelsSource() {\n  return\n${chunks};\n}\n}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
