#include "model/tensor_binder.h"

#include <memory>
#include <string>

#include "format/mote_file.h"
#include "kernels/kernels.h"
#include "model/weights.h"

namespace mote {
namespace {

using Role = fb::TensorRole;
using Shape = std::vector<int64_t>;

std::string shape_string(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(s[i]);
  }
  return out + "]";
}

std::string where(Role role, int64_t layer, int64_t expert = -1) {
  std::string s = std::string("role ") + fb::EnumNameTensorRole(role);
  if (layer >= 0) s += ", layer " + std::to_string(layer);
  if (expert >= 0) s += ", expert " + std::to_string(expert);
  return s;
}

}  // namespace

Status TensorBinder::build_index() {
  const auto& tensors = *file_.model().tensors();
  used_.assign(tensors.size(), false);
  for (uint32_t i = 0; i < tensors.size(); ++i) {
    const fb::Tensor* t = tensors.Get(i);
    const Key key{int(t->role()), t->layer(), t->expert()};
    if (!index_.emplace(key, i).second)
      return corrupt_file("tensors " + tensors.Get(index_[key])->name()->str() + " and " + t->name()->str() +
                          " both have " + where(t->role(), t->layer(), t->expert()));
  }
  return Status::ok();
}

bool TensorBinder::has(Role role, int64_t layer) const { return index_.count(Key{int(role), int(layer), -1}) != 0; }

Result<WeightView> TensorBinder::matrix(Role role, int64_t layer, const Shape& shape) {
  auto it = index_.find(Key{int(role), int(layer), -1});
  if (it == index_.end()) return not_found("missing tensor: " + where(role, layer));
  return checked(it->second, shape);
}

Result<WeightView> TensorBinder::row_major_matrix(Role role, int64_t layer, const Shape& shape) {
  MOTE_ASSIGN_OR_RETURN(WeightView v, matrix(role, layer, shape));
  if (v.grouped()) {
    const fb::Tensor* t = file_.model().tensors()->Get(index_.at(Key{int(role), int(layer), -1}));
    return corrupt_file("tensor " + t->name()->str() + ": quant.row_group " + std::to_string(v.row_group) +
                        ", but " + where(role, layer) + " must be row-major (it is sliced per head)");
  }
  return v;
}

Result<const float*> TensorBinder::vector(Role role, int64_t layer, int64_t n) {
  MOTE_ASSIGN_OR_RETURN(WeightView v, matrix(role, layer, Shape{n}));
  return as_f32(v, n);
}

const float* TensorBinder::as_f32(const WeightView& v, int64_t n) {
  if (v.type == WeightType::F32) return v.f32();
  auto copy = std::make_unique<float[]>(size_t(n));
  kernels::reference_kernels().get_row(v, 0, copy.get());
  out_->owned.push_back(std::move(copy));
  return static_cast<const float*>(out_->owned.back().get());
}

Result<const float*> TensorBinder::expert_vector(Role role, int64_t layer, int64_t expert, int64_t n) {
  auto it = index_.find(Key{int(role), int(layer), int(expert)});
  if (it == index_.end()) return not_found("missing tensor: " + where(role, layer, expert));
  MOTE_ASSIGN_OR_RETURN(WeightView v, checked(it->second, Shape{n}));
  return as_f32(v, n);
}

Result<WeightView> TensorBinder::expert_tensor(uint32_t index, Role role, int64_t layer, int64_t expert,
                                               const Shape& shape) {
  const fb::Tensor* t = file_.model().tensors()->Get(index);
  if (t->role() != role || t->layer() != layer || t->expert() != expert)
    return corrupt_file("expert table entry " + where(role, layer, expert) + " points at tensor " +
                        t->name()->str() + " (" + where(t->role(), t->layer(), t->expert()) + ")");
  return checked(index, shape);
}

Status TensorBinder::check_all_used() const {
  const auto& tensors = *file_.model().tensors();
  for (uint32_t i = 0; i < tensors.size(); ++i) {
    const fb::Tensor* t = tensors.Get(i);
    if (!used_[i])
      return corrupt_file("tensor " + t->name()->str() + " (" + where(t->role(), t->layer(), t->expert()) +
                          ") is not used by this model configuration");
  }
  return Status::ok();
}

Result<WeightView> TensorBinder::checked(uint32_t index, const Shape& expected) {
  const fb::Tensor* t = file_.model().tensors()->Get(index);
  Shape actual(t->shape()->begin(), t->shape()->end());
  if (actual != expected)
    return corrupt_file("tensor " + t->name()->str() + ": shape " + shape_string(actual) + ", expected " +
                        shape_string(expected));
  used_[index] = true;
  return file_.view(*t);
}

}  // namespace mote
