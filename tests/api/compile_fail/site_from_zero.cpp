// expect: conversion from .int. to non-scalar type .tl::Site.|could not convert
// A Site is never made from a literal by accident.
#include "tl/tl.h"
tl::Site s = {0};
