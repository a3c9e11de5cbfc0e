//! Test fixtures: busybox and debootstrap base images, peer tool detection, temporary stores
