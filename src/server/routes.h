/* routes.h — the route handlers the route table (routes.c) names. Each
 * start function answers at once (returns 1) or queues r->job for the
 * batcher (returns 0); its finish function answers the finished job. */
#ifndef BERT_SERVER_ROUTES_H
#define BERT_SERVER_ROUTES_H

#include "server/server.h"

int route_openai_embed(srv_req *r, srv_reply *out);
void route_openai_embed_finish(srv_req *r, srv_reply *out);
int route_openai_models(srv_req *r, srv_reply *out);
int route_tei_embed(srv_req *r, srv_reply *out);
void route_tei_embed_finish(srv_req *r, srv_reply *out);
int route_tokenize(srv_req *r, srv_reply *out);
int route_decode(srv_req *r, srv_reply *out);
int route_info(srv_req *r, srv_reply *out);
int route_health(srv_req *r, srv_reply *out);
int route_metrics(srv_req *r, srv_reply *out);
int route_predict(srv_req *r, srv_reply *out);
void route_predict_finish(srv_req *r, srv_reply *out);
int route_rerank(srv_req *r, srv_reply *out);
void route_rerank_finish(srv_req *r, srv_reply *out);
int route_fill_mask(srv_req *r, srv_reply *out);
int route_ner(srv_req *r, srv_reply *out);
int route_qa(srv_req *r, srv_reply *out);
int route_similarity(srv_req *r, srv_reply *out);
int route_embed_sparse(srv_req *r, srv_reply *out);
void route_similarity_finish(srv_req *r, srv_reply *out);
int route_dialogue(srv_req *r, srv_reply *out);
/* The answer of /fill-mask, /ner and /qa: the task wrote it into r->state. */
void route_task_finish(srv_req *r, srv_reply *out);

#endif
