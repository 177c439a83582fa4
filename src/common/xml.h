/* xml.h: reading XML that comes from outside (JUnit reports, Cobertura coverage) with libxml2, the
 * one safe way: no network, no DTD, no entity, no "huge" mode, and no message printed. */
#ifndef DTF_XML_H
#define DTF_XML_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

/* Parses xml[0..len) into a new tree, *doc, that the caller frees with xmlFreeDoc(). A document
 * that carries a DOCTYPE is refused as soon as the parser sees it, before any entity of its
 * internal subset is declared; *refused_dtd then says so. Parse errors go to a silent handler
 * owned by the parser context, and the thread's generic error channel is silenced only for the
 * call, so no global state of libxml2 changes. The caller checks its own size cap and NUL bytes
 * (libxml2 takes a NUL for the end of the input) first.
 * Returns 0, DTF_EPARSE (not well-formed, or refused) with *doc NULL, DTF_ETOOBIG past INT_MAX
 * bytes or DTF_ENOMEM. */
int dtf_xml_parse(const char *xml, size_t len, xmlDocPtr *doc, bool *refused_dtd);

/* True when node is an element named name. */
bool dtf_xml_is_element(const xmlNode *node, const char *name);

#endif
