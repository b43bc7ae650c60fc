// Every difference between the LibTorch generations this addon builds against, in one place:
// Debian 12's 1.13 and 2.x (Debian 13's 2.6, PyTorch wheels). Other files call these names only.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define TNODE_TORCH2 (TORCH_VERSION_MAJOR >= 2)

namespace tnode::compat {

// Autocast: 2.x has per-device functions; 1.13 separate CPU/CUDA ones (deprecated in 2.4).
inline bool autocastEnabled(c10::DeviceType device) {
#if TNODE_TORCH2
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

inline void setAutocastEnabled(c10::DeviceType device, bool enabled) {
#if TNODE_TORCH2
  at::autocast::set_autocast_enabled(device, enabled);
#else
  if (device == c10::DeviceType::CPU)
    at::autocast::set_cpu_enabled(enabled);
  else
    at::autocast::set_enabled(enabled);
#endif
}

inline at::ScalarType autocastDtype(c10::DeviceType device) {
#if TNODE_TORCH2
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                        : at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void setAutocastDtype(c10::DeviceType device, at::ScalarType dtype) {
#if TNODE_TORCH2
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CPU)
    at::autocast::set_autocast_cpu_dtype(dtype);
  else
    at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}

}  // namespace tnode::compat

// c10d (only for files that include its headers first): 2.x split ProcessGroup into a dispatching
// front and per-device Backends; ProcessGroupGloo/NCCL are Backends there, ProcessGroups in 1.13.
#ifdef TNODE_WITH_C10D
namespace tnode::compat {
#if TNODE_TORCH2
using C10dGroup = c10d::Backend;
#else
using C10dGroup = c10d::ProcessGroup;
#endif

// TCPStore's libuv server is the default from 2.4 but optional at build time (Debian 13's 2.6 has
// none and refuses it); the plain-socket server exists in every version.
inline void usePlainSockets(c10d::TCPStoreOptions& o) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  o.useLibUV = false;
#else
  (void)o;
#endif
}
}  // namespace tnode::compat
#endif
