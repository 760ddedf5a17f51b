// zokio::actor: tasks that own their state and handle messages from a bounded mailbox, one
// at a time and in order; tell, ask with a typed reply, supervision with restart policies,
// and a stop that drains or drops the mailbox. Guide: doc/actors.md.
#ifndef ZOKIO_ACTOR_HPP
#define ZOKIO_ACTOR_HPP

#include <zokio/actor/actor_context.hpp>
#include <zokio/actor/actor_handle.hpp>
#include <zokio/actor/actor_options.hpp>
#include <zokio/actor/actor_ref.hpp>
#include <zokio/actor/reply.hpp>
#include <zokio/actor/spawn_actor.hpp>

#endif
