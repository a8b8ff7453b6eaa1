/* OpenCL C source of every kernel of the opencl backend, built once per
 * backend at create time. */
#ifndef TB_CL_SOURCE_H
#define TB_CL_SOURCE_H

/* Work-group size every kernel is written for (local reductions). */
#define TB_CL_WG 64
/* Activation rows one matmul work-group handles (weights read once per tile). */
#define TB_CL_MM_ROWS 4

extern const char tb_cl_source[];

#endif
