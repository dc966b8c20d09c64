"""Courses: a teacher creates one and adds lectures; students join with its invite code and may
then watch those lectures (player, timeline, downloads, their own bookmarks), never change them.

Roles are checked here and in `crud.get_viewable_lecture`: a course the user is not in answers
404, like one that does not exist; a student trying a teacher's action gets 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from classrec.web import crud
from classrec.web.deps import DbDep, LectureDep, UserDep
from classrec.web.models import Course, Lecture, User
from classrec.web.schemas import CourseCreate, CourseOut, JoinCourse, LectureOut

router = APIRouter(prefix="/api/courses", tags=["courses"])


def course_out(course: Course, role: str) -> CourseOut:
    code = course.invite_code if role == "teacher" else None
    return CourseOut(id=course.id, title=course.title, role=role, invite_code=code)


def member_course(course_id: int, user: UserDep, db: DbDep) -> tuple[Course, str]:
    """The course and the user's role in it; 404 when the user is not in it. The course is held
    while the role is read: fetched again, it could be gone (deleted by a concurrent request)."""
    course = db.get(Course, course_id)
    role = crud.course_role(db, course_id, user.id) if course else None
    if role is None:
        raise HTTPException(404, "no such course")
    return course, role


MemberDep = Annotated[tuple[Course, str], Depends(member_course)]


def taught_course(member: MemberDep) -> Course:
    course, role = member
    if role != "teacher":
        raise HTTPException(403, "only the course's teacher can change it")
    return course


TaughtDep = Annotated[Course, Depends(taught_course)]


def _role(course: Course, user: User) -> str:
    return "teacher" if course.teacher_id == user.id else "student"


@router.get("", response_model=list[CourseOut])
def list_courses(user: UserDep, db: DbDep) -> list[CourseOut]:
    return [course_out(c, _role(c, user)) for c in crud.list_courses(db, user)]


@router.post("", response_model=CourseOut, status_code=201)
def create(body: CourseCreate, user: UserDep, db: DbDep) -> CourseOut:
    return course_out(crud.create_course(db, user, body.title), "teacher")


@router.post("/join", response_model=CourseOut)
def join(body: JoinCourse, user: UserDep, db: DbDep) -> CourseOut:
    course = crud.course_by_code(db, body.code)
    if course is None:
        raise HTTPException(404, "no course has this invite code: check it with your teacher")
    crud.enroll(db, course, user)
    return course_out(course, _role(course, user))


@router.get("/{course_id}", response_model=CourseOut)
def get_course(member: MemberDep) -> CourseOut:
    return course_out(*member)


@router.delete("/{course_id}", status_code=204)
def delete_course(course: TaughtDep, db: DbDep) -> None:
    """The course goes, its students lose access; the lectures stay the teacher's."""
    crud.delete_course(db, course)


@router.delete("/{course_id}/enrollment", status_code=204)
def leave(member: MemberDep, user: UserDep, db: DbDep) -> None:
    course, role = member
    if role == "teacher":
        raise HTTPException(409, "a teacher does not leave a course: delete it instead")
    crud.leave_course(db, course, user)


@router.get("/{course_id}/lectures", response_model=list[LectureOut])
def lectures(member: MemberDep, db: DbDep) -> list[Lecture]:
    return crud.course_lectures(db, member[0])


@router.put("/{course_id}/lectures/{lecture_id}", response_model=LectureOut)
def add_lecture(course: TaughtDep, lecture: LectureDep) -> Lecture:
    """Share one of the teacher's own lectures with the course (a lecture is in one course)."""
    lecture.course_id = course.id
    return lecture


@router.delete("/{course_id}/lectures/{lecture_id}", status_code=204)
def remove_lecture(course: TaughtDep, lecture: LectureDep) -> None:
    if lecture.course_id != course.id:
        raise HTTPException(404, "this lecture is not in the course")
    lecture.course_id = None
