/* routes.c — the route table: method, path, error shape, handlers. */
#include "server/routes.h"

const srv_route srv_routes[] = {
    {"POST", "/v1/embeddings", SRV_SHAPE_OPENAI, route_openai_embed, route_openai_embed_finish, 0},
    {"GET", "/v1/models", SRV_SHAPE_OPENAI, route_openai_models, NULL, 0},
    {"POST", "/embed", SRV_SHAPE_TEI, route_tei_embed, route_tei_embed_finish, 0},
    {"POST", "/embed_all", SRV_SHAPE_TEI, route_tei_embed, route_tei_embed_finish, 0},
    {"POST", "/similarity", SRV_SHAPE_TEI, route_similarity, route_similarity_finish, 0},
    {"POST", "/embed_sparse", SRV_SHAPE_TEI, route_embed_sparse, route_task_finish, 0},
    {"POST", "/rerank", SRV_SHAPE_TEI, route_rerank, route_rerank_finish, 0},
    {"POST", "/predict", SRV_SHAPE_TEI, route_predict, route_predict_finish, 0},
    {"POST", "/tokenize", SRV_SHAPE_TEI, route_tokenize, NULL, 0},
    {"POST", "/decode", SRV_SHAPE_TEI, route_decode, NULL, 0},
    {"GET", "/info", SRV_SHAPE_TEI, route_info, NULL, 0},
    {"GET", "/health", SRV_SHAPE_TEI, route_health, NULL, 1},
    {"GET", "/metrics", SRV_SHAPE_TEI, route_metrics, NULL, 0},
    {"POST", "/fill-mask", SRV_SHAPE_TEI, route_fill_mask, route_task_finish, 0},
    {"POST", "/ner", SRV_SHAPE_TEI, route_ner, route_task_finish, 0},
    {"POST", "/qa", SRV_SHAPE_TEI, route_qa, route_task_finish, 0},
    {"POST", "/dialogue", SRV_SHAPE_TEI, route_dialogue, route_task_finish, 0},
    {NULL, NULL, SRV_SHAPE_TEI, NULL, NULL, 0},
};
