/* Device binding of data-parallel ranks (src/train/rank_setup.c): each
 * rank takes local_rank modulo the node's usable devices of the best type;
 * more ranks than devices share them round-robin; lavapipe next to GPUs and
 * unusable devices are never taken. */
#include <stdio.h>

#include "train_internal.h"

#include "train_check.h"

/* the lines sr_backend_list_devices("vulkan") prints */
static const char two_gpus[] =
    "vulkan 0: llvmpipe (LLVM 15.0.6, 256 bits) (CPU, driver llvmpipe "
    "Mesa 22.3.6) [default]\n"
    "vulkan 1: NVIDIA H200 (discrete GPU, driver NVIDIA 550.54)\n"
    "vulkan 2: AMD Radeon Graphics (integrated GPU, driver radv)\n"
    "vulkan 3: NVIDIA H200 (discrete GPU, driver NVIDIA 550.54) "
    "[unusable: out of host memory]\n"
    "vulkan 4: NVIDIA H200 (discrete GPU, driver NVIDIA 550.54)\n";
static const char lavapipe[] =
    "vulkan 0: llvmpipe (LLVM 15.0.6, 256 bits) (CPU, driver llvmpipe "
    "Mesa 22.3.6) [default]\n";
static const char none_usable[] =
    "vulkan 0: Old GPU (discrete GPU, driver x) [unusable: needs Vulkan "
    "1.2]\n";

int main(void)
{
    /* 5 local ranks on a node of 2 usable GPUs (1 and 4) */
    static const int want[5] = {1, 4, 1, 4, 1};
    int counts[5] = {0};

    for (int lr = 0; lr < 5; lr++) {
        int d = sr_train_pick_device(two_gpus, lr);
        CHECK(d == want[lr], "2 GPUs, local rank %d: device %d, want %d", lr,
              d, want[lr]);
        if (d >= 0 && d < 5)
            counts[d]++;
    }
    CHECK(counts[1] == 3 && counts[4] == 2 && counts[0] + counts[2] +
          counts[3] == 0, "5 ranks on 2 GPUs: 3 + 2, no other device");
    for (int lr = 0; lr < 3; lr++)
        CHECK(sr_train_pick_device(lavapipe, lr) == 0,
              "lavapipe alone, local rank %d: device %d, want 0", lr,
              sr_train_pick_device(lavapipe, lr));
    CHECK(sr_train_pick_device(none_usable, 0) == -1,
          "no usable device: %d, want -1", sr_train_pick_device(none_usable, 0));
    CHECK(sr_train_pick_device("", 0) == -1, "empty list: want -1");
    CHECK(sr_train_pick_device(NULL, 0) == -1, "NULL list: want -1");
    CHECK(sr_train_pick_device(two_gpus, -1) == -1, "local rank -1: want -1");
    if (fails) {
        printf("%d failure(s)\n", fails);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
