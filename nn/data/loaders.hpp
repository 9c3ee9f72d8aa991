#pragma once
// File loaders: IDX (MNIST, Fashion-MNIST; raw or gzip, told apart by the gzip magic bytes) and
// the CIFAR-10 binary format. Images come out as floats in [0, 1] (byte / 255), or as the raw
// bytes from the *Bytes variants (see ByteDataset); normalisation is the caller's (registry.hpp
// applies each dataset's standard values). Every error is an InputError naming the file and
// what is wrong with it.

#include <cstdint>
#include <filesystem>
#include <vector>

#include "nn/data/dataset.hpp"

namespace murmur::nn::data {

// The whole file, gunzipped when it starts with the gzip magic (1f 8b).
std::vector<uint8_t> readMaybeGzip(const std::filesystem::path& path);

// An IDX image file (magic 0x00000803, dims n, rows, cols) and label file (0x00000801, dim n)
// of the same n; labels must be < classes.
Dataset loadIdx(const std::filesystem::path& imagesPath, const std::filesystem::path& labelsPath,
                int classes = 10);

ByteDataset loadIdxBytes(const std::filesystem::path& imagesPath,
                         const std::filesystem::path& labelsPath, int classes = 10);

// The standard file names in `dir`: train-images-idx3-ubyte / train-labels-idx1-ubyte (train)
// or t10k-images-idx3-ubyte / t10k-labels-idx1-ubyte (test), each with or without ".gz".
Dataset loadMnistLike(const std::filesystem::path& dir, bool train);
ByteDataset loadMnistLikeBytes(const std::filesystem::path& dir, bool train);

// CIFAR-10 binary files: records of 1 label byte + 3072 bytes (1024 R, 1024 G, 1024 B).
Dataset loadCifarBinary(const std::vector<std::filesystem::path>& files, int classes = 10);
ByteDataset loadCifarBinaryBytes(const std::vector<std::filesystem::path>& files, int classes = 10);

// data_batch_1.bin .. data_batch_5.bin (train) or test_batch.bin (test) in `dir`.
Dataset loadCifar10(const std::filesystem::path& dir, bool train);
ByteDataset loadCifar10Bytes(const std::filesystem::path& dir, bool train);

}  // namespace murmur::nn::data
