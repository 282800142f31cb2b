// Not API: KeyedStateBackend::get_*_state, which create the typed state for the backend's
// store (heap objects or RocksDB bytes). Included at the end of keyed_state_backend.h.
#pragma once

#include "eddy/internal/byte_state.h"
#include "eddy/internal/heap_state.h"

namespace eddy {

namespace internal {

inline bool ttl_enabled(const StateDescriptorBase& descriptor) {
  return descriptor.ttl.has_value() && descriptor.ttl->enabled();
}

template <class T>
StateMetaInfo meta_for(const StateDescriptorBase& descriptor) {
  StateMetaInfo meta;
  meta.name = descriptor.name;
  meta.kind = descriptor.kind;
  meta.value_signature = serializer_signature<T>();
  meta.ttl = ttl_enabled(descriptor);
  meta.serializer_version = Serializer<T>::kVersion;
  return meta;
}

}  // namespace internal

template <class T>
ValueState<T>& KeyedStateBackend::get_state(const ValueStateDescriptor<T>& descriptor) {
  StateMetaInfo meta = internal::meta_for<T>(descriptor);
  const std::type_info& type = typeid(ValueState<T>);
  if (State* state = find_state(meta, type)) return static_cast<ValueState<T>&>(*state);
  std::unique_ptr<ValueState<T>> state =
      heap_store() != nullptr ? internal::make_heap_value_state<T>(*this, *heap_store(), meta, descriptor)
                              : internal::make_byte_value_state<T>(*this, *byte_store(), meta, descriptor);
  return static_cast<ValueState<T>&>(register_state(meta, type, std::move(state)));
}

template <class T>
ListState<T>& KeyedStateBackend::get_list_state(const ListStateDescriptor<T>& descriptor) {
  StateMetaInfo meta = internal::meta_for<T>(descriptor);
  const std::type_info& type = typeid(ListState<T>);
  if (State* state = find_state(meta, type)) return static_cast<ListState<T>&>(*state);
  std::unique_ptr<ListState<T>> state =
      heap_store() != nullptr ? internal::make_heap_list_state<T>(*this, *heap_store(), meta, descriptor)
                              : internal::make_byte_list_state<T>(*this, *byte_store(), meta, descriptor);
  return static_cast<ListState<T>&>(register_state(meta, type, std::move(state)));
}

template <class K, class V>
MapState<K, V>& KeyedStateBackend::get_map_state(const MapStateDescriptor<K, V>& descriptor) {
  StateMetaInfo meta = internal::meta_for<V>(descriptor);
  meta.user_key_signature = serializer_signature<K>();
  const std::type_info& type = typeid(MapState<K, V>);
  if (State* state = find_state(meta, type)) return static_cast<MapState<K, V>&>(*state);
  std::unique_ptr<MapState<K, V>> state =
      heap_store() != nullptr ? internal::make_heap_map_state<K, V>(*this, *heap_store(), meta, descriptor)
                              : internal::make_byte_map_state<K, V>(*this, *byte_store(), meta, descriptor);
  return static_cast<MapState<K, V>&>(register_state(meta, type, std::move(state)));
}

template <class T>
ReducingState<T>& KeyedStateBackend::get_reducing_state(const ReducingStateDescriptor<T>& descriptor) {
  StateMetaInfo meta = internal::meta_for<T>(descriptor);
  const std::type_info& type = typeid(ReducingState<T>);
  if (State* state = find_state(meta, type)) return static_cast<ReducingState<T>&>(*state);
  std::unique_ptr<ReducingState<T>> state =
      heap_store() != nullptr ? internal::make_heap_reducing_state<T>(*this, *heap_store(), meta, descriptor)
                              : internal::make_byte_reducing_state<T>(*this, *byte_store(), meta, descriptor);
  return static_cast<ReducingState<T>&>(register_state(meta, type, std::move(state)));
}

template <class IN, class ACC, class OUT>
AggregatingState<IN, OUT>& KeyedStateBackend::get_aggregating_state(
    const AggregatingStateDescriptor<IN, ACC, OUT>& descriptor) {
  StateMetaInfo meta = internal::meta_for<ACC>(descriptor);
  const std::type_info& type = typeid(AggregatingStateDescriptor<IN, ACC, OUT>);
  if (State* state = find_state(meta, type)) return static_cast<AggregatingState<IN, OUT>&>(*state);
  std::unique_ptr<AggregatingState<IN, OUT>> state =
      heap_store() != nullptr
          ? internal::make_heap_aggregating_state<IN, ACC, OUT>(*this, *heap_store(), meta, descriptor)
          : internal::make_byte_aggregating_state<IN, ACC, OUT>(*this, *byte_store(), meta, descriptor);
  return static_cast<AggregatingState<IN, OUT>&>(register_state(meta, type, std::move(state)));
}

}  // namespace eddy
