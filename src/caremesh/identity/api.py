from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import ValidationError

from caremesh.identity import self_service, service
from caremesh.identity.schemas import (
    ChangePasswordRequest,
    EmailVerification,
    LoginRequest,
    PasswordResetConfirm,
    PasswordResetRequest,
    ProfileRead,
    ProfileUpdate,
    RefreshRequest,
    RegistrationRequest,
    SessionRead,
    TokenPair,
    UserCreate,
    UserRead,
    UserUpdate,
)
from caremesh.patients import contract as patients
from caremesh.platform.api import (
    CredentialsRoute,
    CurrentPrincipal,
    IfMatch,
    TransactionalRoute,
    Uow,
    read_model,
    read_page,
    require,
)
from caremesh.platform.errors import RateLimited
from caremesh.platform.openapi import problems
from caremesh.platform.pagination import Page, PageParams
from caremesh.platform.ratelimit import Admission
from caremesh.platform.settings import parse_rate
from caremesh.practitioners import contract as practitioners

router = APIRouter(route_class=TransactionalRoute)
auth = APIRouter(prefix="/auth", tags=["identity"], route_class=CredentialsRoute)
users = APIRouter(
    prefix="/users", tags=["identity"], route_class=TransactionalRoute, dependencies=[require("users:manage")]
)


def authenticator(request: Request) -> service.Authenticator:
    return request.app.state.authenticator


Auth = Annotated[service.Authenticator, Depends(authenticator)]


async def _limit_login(request: Request, email: str) -> Admission:
    """Count one attempt per address and per account, or 429 if either is out of its allowance (the attempt
    is then not counted). Returns what was counted, so that a successful login can give it back."""
    state = request.app.state
    limit, period = parse_rate(state.settings.security.login_rate_limit)
    ip = request.client.host if request.client else "unknown"
    keys = (f"login-ip:{ip}", f"login-account:{service.normalise_email(email)}")
    admission = await state.rate_limiter.acquire(keys, limit, period)
    if admission.retry_after is not None:
        raise RateLimited("Too many login attempts.", headers={"Retry-After": str(int(admission.retry_after) + 1)})
    return admission


async def _throttled_login(
    request: Request, uow: Uow, authn: service.Authenticator, email: str, password: str
) -> TokenPair:
    """Log in, counting only failures against the address and the account: staff behind one NAT address
    never use up its allowance by logging in correctly. The attempt is counted while it runs, so concurrent
    guesses cannot all slip under the limit."""
    counted = await _limit_login(request, email)
    tokens = await authn.login(uow, email, password, request.headers.get("user-agent"))
    await request.app.state.rate_limiter.release(counted)
    return tokens


@auth.post("/login", responses=problems(service.InvalidCredentials, service.AccountLocked, RateLimited))
async def login(body: LoginRequest, request: Request, uow: Uow, authn: Auth) -> TokenPair:
    return await _throttled_login(request, uow, authn, body.email, body.password)


@auth.post("/token", include_in_schema=False, responses=problems(service.InvalidCredentials, service.AccountLocked))
async def token_for_docs(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, uow: Uow, authn: Auth
) -> TokenPair:
    """The OAuth2 password flow of the /docs "Authorize" dialog; the username is the email."""
    try:  # the same checks as the JSON login
        body = LoginRequest.model_validate({"email": form.username, "password": form.password})
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_input=False)) from error
    return await _throttled_login(request, uow, authn, body.email, body.password)


@auth.post("/refresh", responses=problems(service.InvalidRefreshToken, service.RefreshTokenReused))
async def refresh(body: RefreshRequest, uow: Uow, authn: Auth) -> TokenPair:
    return await authn.refresh(uow, body.refresh_token)


@auth.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, uow: Uow, authn: Auth) -> Response:
    await authn.logout(uow, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.get("/me")
async def me(principal: CurrentPrincipal, uow: Uow) -> UserRead:
    return read_model(UserRead, await service.get_user(uow, principal.user_id))


@auth.post(
    "/change-password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(service.WrongCurrentPassword, service.AccountLocked),
)
async def change_password(body: ChangePasswordRequest, principal: CurrentPrincipal, uow: Uow, authn: Auth) -> Response:
    await authn.change_password(uow, principal, body.current_password, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.post(
    "/password-reset/request",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses=problems(RateLimited),
)
async def request_password_reset(body: PasswordResetRequest, request: Request, uow: Uow, authn: Auth) -> Response:
    await _limit_login(request, body.email)
    await authn.request_password_reset(uow, body.email)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@auth.post(
    "/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT, responses=problems(service.InvalidResetToken)
)
async def confirm_password_reset(body: PasswordResetConfirm, uow: Uow, authn: Auth) -> Response:
    await authn.confirm_password_reset(uow, body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.get("/profile")
async def get_profile(principal: CurrentPrincipal, uow: Uow, response: Response) -> ProfileRead:
    return read_model(ProfileRead, await self_service.get_profile(uow, principal), response)


@auth.patch("/profile", responses=problems(service.UserNotFound))
async def update_profile(
    body: ProfileUpdate, principal: CurrentPrincipal, uow: Uow, if_match: IfMatch, response: Response
) -> ProfileRead:
    user = await self_service.update_profile(uow, principal, body, if_match)
    return read_model(ProfileRead, user, response)


def _refresh_ttl(request: Request) -> int:
    return request.app.state.settings.security.refresh_token_ttl_seconds


@auth.get("/sessions")
async def list_sessions(
    principal: CurrentPrincipal, uow: Uow, request: Request, page: Annotated[PageParams, Depends()]
) -> Page[SessionRead]:
    rows, cursor = await self_service.list_sessions(uow, principal, page, _refresh_ttl(request))
    items = [
        SessionRead(
            id=row.id,
            created_at=row.created_at,
            last_used_at=row.last_used_at or row.created_at,
            user_agent=row.user_agent,
            current=row.id == principal.session_id,
        )
        for row in rows
    ]
    return Page(items=items, next_cursor=cursor)


@auth.delete(
    "/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(self_service.SessionNotFound)
)
async def revoke_session(session_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow, request: Request) -> Response:
    await self_service.revoke_session(uow, principal, session_id, _refresh_ttl(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@auth.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses=problems(self_service.RegistrationClosed, RateLimited),
)
async def register(body: RegistrationRequest, request: Request, uow: Uow, authn: Auth) -> Response:
    """Patient self-registration (when `CAREMESH_SELF_REGISTRATION=true`; else 404). Always 202, also for an
    address already registered; the verification email goes to the address."""
    self_service.check_registration_open(uow)
    await _limit_login(request, str(body.email))
    await self_service.register(uow, authn, body)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@auth.post(
    "/verify-email",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(self_service.RegistrationClosed, self_service.InvalidVerificationToken),
)
async def verify_email(body: EmailVerification, uow: Uow) -> Response:
    """Confirm a self-registration with the token from its email: the account works from now on."""
    self_service.check_registration_open(uow)
    await self_service.verify_email(uow, body.token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problems(service.EmailTaken, patients.PatientNotFound, practitioners.PractitionerNotFound),
)
async def create_user(body: UserCreate, uow: Uow, authn: Auth, response: Response) -> UserRead:
    return read_model(UserRead, await authn.create_user(uow, body), response)


@users.get("")
async def list_users(uow: Uow, page: Annotated[PageParams, Depends()]) -> Page[UserRead]:
    return read_page(UserRead, await service.list_users(uow, page))


@users.get("/{user_id}", responses=problems(service.UserNotFound))
async def get_user(user_id: uuid.UUID, uow: Uow, response: Response) -> UserRead:
    return read_model(UserRead, await service.get_user(uow, user_id), response)


@users.patch("/{user_id}", responses=problems(service.UserNotFound, service.LastAdmin))
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, uow: Uow, if_match: IfMatch, response: Response
) -> UserRead:
    return read_model(UserRead, await service.update_user(uow, user_id, body, if_match), response)


router.include_router(auth)
router.include_router(users)
