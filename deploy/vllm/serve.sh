#!/usr/bin/env bash
# Start vLLM's OpenAI-compatible server for hardneg's LLM miner (outside a container).
#
#   deploy/vllm/serve.sh                     # Llama-3.1-8B-Instruct: a 24 GB+ GPU (L4, A10G 24G, A100, H100)
#   VLLM_SIZE=small deploy/vllm/serve.sh     # Llama-3.2-3B-Instruct: a 12-16 GB GPU (T4 needs VLLM_DTYPE=half)
#
# Then point hardneg at it:  HARDNEG_LLM_URL=http://HOST:8000/v1 HARDNEG_LLM_MODEL=<the model below>
# Needs vLLM >= 0.10.2 (--structured-outputs-config); for older vLLM replace that flag with
# --guided-decoding-backend xgrammar. Llama models are gated: export HF_TOKEN first.
set -euo pipefail

if [[ "${VLLM_SIZE:-}" == "small" ]]; then
  MODEL="${VLLM_MODEL:-meta-llama/Llama-3.2-3B-Instruct}"
  GPU_UTIL="${VLLM_GPU_UTIL:-0.85}"
else
  MODEL="${VLLM_MODEL:-meta-llama/Llama-3.1-8B-Instruct}"
  GPU_UTIL="${VLLM_GPU_UTIL:-0.90}"
fi

args=(
  "$MODEL"
  --host "${VLLM_HOST:-0.0.0.0}"
  --port "${VLLM_PORT:-8000}"
  # The name clients send as "model": keep it equal to HARDNEG_LLM_MODEL.
  --served-model-name "$MODEL"
  # hardneg's prompt puts rules + few-shot examples first and the item last: the shared prefix
  # is computed once and reused by every request (on by default in vLLM's V1 engine; explicit here).
  --enable-prefix-caching
  # response_format json_schema is enforced with xgrammar (token masks, no prose possible).
  --structured-outputs-config.backend "${VLLM_SO_BACKEND:-xgrammar}"
  # Prompt ~1k tokens + up to ~3.3k generated (40 proposals, doubled on the truncation retry).
  --max-model-len "${VLLM_MAX_MODEL_LEN:-8192}"
  --gpu-memory-utilization "$GPU_UTIL"
  # Requests batched together; hardneg sends at most HARDNEG_LLM_MAX_CONCURRENCY per replica.
  --max-num-seqs "${VLLM_MAX_NUM_SEQS:-64}"
  --dtype "${VLLM_DTYPE:-auto}"
)
if [[ -n "${VLLM_API_KEY:-}" ]]; then
  args+=(--api-key "$VLLM_API_KEY")  # then set HARDNEG_LLM_API_KEY to the same value
fi
exec vllm serve "${args[@]}" "$@"
